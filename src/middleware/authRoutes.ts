import type { AuthService, HttpAuthService } from '@backstage/backend-plugin-api';
import type express from 'express';
import Router from 'express-promise-router';

const WELL_KNOWN_JWKS_PATH_V1 = '/.backstage/auth/v1/jwks.json';
const WELL_KNOWN_COOKIE_PATH_V1 = '/.backstage/auth/v1/cookie';

/** Every path of the routers below, as express routes match: regardless of case, with a trailing slash. */
export const WELL_KNOWN_AUTH_PATHS = /^\/\.backstage\/auth\/v1\//i;

/**
 * Serves the plugin's public service keys; it runs before the credentials barrier, as other backends fetch them.
 * @public
 */
export function createAuthIntegrationRouter(options: { auth: AuthService }): express.Router {
  const router = Router();
  router.get(WELL_KNOWN_JWKS_PATH_V1, async function servePublicServiceKeys(_req, res) {
    const { keys } = await options.auth.listPublicServiceKeys();
    res.json({ keys });
  });
  return router;
}

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
    await httpAuth.issueUserCookie(res, { credentials: await auth.getNoneCredentials() });
    res.status(204).end();
  });
  return router;
}
