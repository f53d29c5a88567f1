import type { AuthService } from '@backstage/backend-plugin-api';
import type express from 'express';
import Router from 'express-promise-router';

/** Where a plugin publishes the public keys that verify its service tokens. */
const WELL_KNOWN_JWKS_PATH_V1 = '/.backstage/auth/v1/jwks.json';

/**
 * Creates the router serving the plugin's public service keys, in front of the credentials barrier: other backends
 * fetch them without credentials to verify this plugin's tokens.
 *
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
