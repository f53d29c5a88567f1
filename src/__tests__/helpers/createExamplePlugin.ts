import {
  coreServices,
  createBackendPlugin,
  type BackendFeature,
  type HttpRouterServiceAuthPolicy,
} from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import Router from 'express-promise-router';

/**
 * Builds a plugin the way the seed's example is written: a promise router with a few routes, handed to
 * `httpRouter.use`, plus the given auth policies.
 */
export function createExamplePlugin(
  options: {
    pluginId?: string;
    policies?: HttpRouterServiceAuthPolicy[];
  } = {},
): BackendFeature {
  const { pluginId = 'example', policies = [] } = options;
  return createBackendPlugin({
    pluginId,
    register(env) {
      env.registerInit({
        deps: { http: coreServices.httpRouter },
        async init({ http }) {
          const router = Router();
          router.get('/hello', async (_req, res) => {
            res.json({ hello: 'world' });
          });
          router.get('/public/:id', async (req, res) => {
            res.json({ id: req.params.id });
          });
          router.get('/cookie-ok', async (_req, res) => {
            res.json({ cookie: 'ok' });
          });
          router.post('/echo', async (req, res) => {
            res.json({ method: req.method });
          });
          router.get('/missing', async () => {
            throw new NotFoundError('There is nothing here');
          });
          router.get('/boom', async () => {
            throw new Error('Something broke');
          });
          http.use(router);
          for (const policy of policies) {
            http.addAuthPolicy(policy);
          }
        },
      });
    },
  });
}

/** The policies the example plugin opens in the backend tests. */
export const EXAMPLE_POLICIES: HttpRouterServiceAuthPolicy[] = [
  { path: '/public', allow: 'unauthenticated' },
  { path: '/cookie-ok', allow: 'user-cookie' },
];
