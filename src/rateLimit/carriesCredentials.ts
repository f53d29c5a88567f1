import type { Request } from 'express';
import { getRequestCredentialsReader } from './requestCredentialsReader';

/** Backstage's user cookie, which httpAuth reads on paths opened with a `user-cookie` policy. */
const AUTH_COOKIE = 'backstage-auth=';

/**
 * Whether a request brings credentials that httpAuth could verify: an `Authorization` header or Backstage's
 * user cookie, or what its credentials reader says (see `setRequestCredentialsReader`). It never verifies.
 *
 * @remarks
 * The all-plugins limiter in the root router leaves such requests to the plugin routers when per-principal
 * budgets are on, and the plugin routers count exactly these, so that each request is counted once across both
 * layers. A request without them has no credentials to verify, so it is counted per address at once.
 *
 * @internal
 */
export function carriesCredentials(req: Request): boolean {
  const reader = getRequestCredentialsReader(req);
  if (reader) {
    return reader.offered;
  }
  const { authorization, cookie } = req.headers;
  return authorization !== undefined || (cookie !== undefined && cookie.includes(AUTH_COOKIE));
}
