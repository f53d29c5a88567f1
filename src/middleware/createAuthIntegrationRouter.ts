import type { AuthService } from '@backstage/backend-plugin-api';
import type express from 'express';
import Router from 'express-promise-router';

const WELL_KNOWN_JWKS_PATH_V1 = '/.backstage/auth/v1/jwks.json';

/**
 * Serves the plugin's public service keys; it runs before the credentials barrier, as other backends fetch them.
 * @public
 */
export function createAuthIntegrationRouter(options: { auth: AuthService }): express.Router {
  const { auth } = options;
  const router = Router();
  router.get(WELL_KNOWN_JWKS_PATH_V1, async function servePublicServiceKeys(_req, res) {
    const { keys } = await auth.listPublicServiceKeys();
    res.json({ keys });
  });
  return router;
}
