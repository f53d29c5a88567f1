import type { AuthService, HttpAuthService } from '@backstage/backend-plugin-api';
import type express from 'express';
import Router from 'express-promise-router';

const WELL_KNOWN_COOKIE_PATH_V1 = '/.backstage/auth/v1/cookie';

/**
 * Creates the router that issues (`GET`, behind the credentials barrier) and clears (`DELETE`) the user cookie.
 * @public
 */
export function createCookieAuthRefreshMiddleware(options: {
  auth: AuthService;
  httpAuth: HttpAuthService;
}): express.Router {
  const { auth, httpAuth } = options;
  const router = Router();
  router.get(WELL_KNOWN_COOKIE_PATH_V1, async function issueUserCookie(_req, res) {
    const { expiresAt } = await httpAuth.issueUserCookie(res);
    res.json({ expiresAt: expiresAt.toISOString() });
  });
  router.delete(WELL_KNOWN_COOKIE_PATH_V1, async function clearUserCookie(_req, res) {
    const credentials = await auth.getNoneCredentials();
    await httpAuth.issueUserCookie(res, { credentials });
    res.status(204).end();
  });
  return router;
}
