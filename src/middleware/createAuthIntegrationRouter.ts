import type { AuthService } from '@backstage/backend-plugin-api';
import type express from 'express';
import Router from 'express-promise-router';

/** Where a plugin publishes the public keys that verify its service tokens. */
export const WELL_KNOWN_JWKS_PATH_V1 = '/.backstage/auth/v1/jwks.json';

/**
 * Creates a router that serves the plugin's public service keys at `GET /.backstage/auth/v1/jwks.json`.
 *
 * @remarks
 * Answers `{ keys }` from `auth.listPublicServiceKeys()`. It sits in front of the credentials barrier, so it is
 * reachable without credentials: other backends fetch it to verify this plugin's tokens.
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
