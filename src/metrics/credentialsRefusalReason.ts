import type { Request } from 'express';
import type { CredentialsRefusalReason } from './types';

/** The cookie Backstage's `httpAuth.issueUserCookie` sets, holding a limited-access user token. */
const AUTH_COOKIE = 'backstage-auth';

function hasAuthCookie(cookieHeader: string | undefined): boolean {
  if (!cookieHeader) {
    return false;
  }
  return cookieHeader.split(';').some(pair => {
    const name = pair.slice(0, pair.indexOf('=')).trim();
    return name === AUTH_COOKIE;
  });
}

/**
 * Tells why the credentials barrier refused a request, from what the request carried.
 *
 * @remarks
 * Read from the request rather than from the error's message, which `httpAuth` does not promise to keep:
 * an `Authorization` header that was refused is `invalid`; otherwise Backstage's auth cookie on a path without a
 * `user-cookie` policy is `limited_access` (the cookie alone never passes there), and a refused cookie where it is
 * allowed is `invalid`; nothing at all is `missing`. A limited-access token sent as a bearer token counts as
 * `invalid`. Only called for refused requests, so its cost does not matter.
 *
 * @param req - The refused request.
 * @param cookieAllowed - Whether a `user-cookie` policy covers the request's path.
 * @internal
 */
export function credentialsRefusalReason(
  req: Pick<Request, 'headers'>,
  cookieAllowed: boolean,
): CredentialsRefusalReason {
  if (req.headers.authorization !== undefined) {
    return 'invalid';
  }
  if (hasAuthCookie(req.headers.cookie)) {
    return cookieAllowed ? 'invalid' : 'limited_access';
  }
  return 'missing';
}
