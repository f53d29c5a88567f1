import type { BackstageCredentials } from '@backstage/backend-plugin-api';

/**
 * How the limiters read the credentials of a request that httpAuth cannot read: a WebSocket upgrade, whose
 * token may travel in `Sec-WebSocket-Protocol`.
 */
export interface RequestCredentialsReader {
  /** Whether the request offers credentials to verify; `false` counts it per address, unverified. */
  offered: boolean;
  /** Rejects, as `httpAuth.credentials` does, when the credentials fail. */
  verify(): Promise<BackstageCredentials>;
}

/** Weak, so that a request is forgotten with it; nothing is added to the request itself. */
const readers = new WeakMap<object, RequestCredentialsReader>();

export function setRequestCredentialsReader(req: object, reader: RequestCredentialsReader): void {
  readers.set(req, reader);
}

export function getRequestCredentialsReader(req: object): RequestCredentialsReader | undefined {
  return readers.get(req);
}
