import type { AuthService, BackstageCredentials } from '@backstage/backend-plugin-api';
import {
  AuthenticationError,
  NotAllowedError,
  ServiceUnavailableError,
  toError,
} from '@backstage/errors';
import type { IncomingMessage } from 'node:http';

/** The most bearer candidates one upgrade may offer, as upstream: each costs a verification. */
const MAX_UPGRADE_TOKEN_CANDIDATES = 5;

const BEARER = /^Bearer[ ]+(\S+)$/i;

/** What authenticated an upgrade: the credentials, and the offered protocol value that carried the token. */
export interface UpgradeAuthentication {
  credentials: BackstageCredentials;
  authProtocol?: string;
}

/** The bearer tokens an upgrade offers: each `Sec-WebSocket-Protocol` value, then the `Authorization` bearer. */
export function readUpgradeTokens(request: IncomingMessage): {
  protocols: string[];
  tokens: string[];
} {
  const bearer = request.headers.authorization?.match(BEARER)?.[1];
  const protocols = (request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map(value => value.trim())
    .filter(Boolean);
  return { protocols, tokens: bearer ? [...protocols, bearer] : protocols };
}

/**
 * Authenticates an upgrade: the first candidate that verifies as a user or service wins; else 401, 403 or 503 as
 * upstream's unexported `authenticateWebSocket` does, or none credentials when `allowNone` (the policy disabled).
 */
export async function authenticateUpgrade(
  auth: AuthService,
  request: IncomingMessage,
  allowNone: boolean,
): Promise<UpgradeAuthentication> {
  const { protocols, tokens } = readUpgradeTokens(request);
  if (tokens.length > MAX_UPGRADE_TOKEN_CANDIDATES) {
    throw new AuthenticationError(
      `WebSocket authentication accepts at most ${MAX_UPGRADE_TOKEN_CANDIDATES} token candidates, got ${tokens.length}`,
    );
  }
  // The strongest refusal wins: not allowed (403), then our side failing (503), then invalid (401).
  let denied: Error | undefined;
  let unavailable: Error | undefined;
  let invalid: Error | undefined;
  for (const token of tokens) {
    try {
      const credentials = await auth.authenticate(token);
      if (auth.isPrincipal(credentials, 'user') || auth.isPrincipal(credentials, 'service')) {
        return { credentials, authProtocol: protocols.includes(token) ? token : undefined };
      }
    } catch (error) {
      const cause = toError(error);
      if (cause.name === NotAllowedError.name) {
        denied = cause;
      } else if (cause.name === ServiceUnavailableError.name) {
        unavailable = cause;
      } else {
        invalid ??= new AuthenticationError('Invalid WebSocket credentials', cause);
      }
    }
  }
  if (allowNone) {
    return { credentials: await auth.getNoneCredentials() };
  }
  throw (
    denied ?? unavailable ?? invalid ?? new AuthenticationError('Missing WebSocket credentials')
  );
}
