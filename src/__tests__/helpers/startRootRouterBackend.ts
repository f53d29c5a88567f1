import {
  coreServices,
  createBackendPlugin,
  type RootHttpRouterService,
  type ServiceFactory,
} from '@backstage/backend-plugin-api';
import { NotAllowedError, NotFoundError } from '@backstage/errors';
import type { JsonObject } from '@backstage/types';
import Router from 'express-promise-router';
import { startWebSocketBackend } from './startWebSocketBackend';

/** A backend started by {@link startRootRouterBackend}. */
export interface RootRouterBackend {
  /** `http://127.0.0.1:<port>`, where the root router under test listens. */
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/**
 * A plugin with open routes for each kind of answer (JSON, a body large enough to compress, the plugin's 404 and
 * 500), and a route on the root router that fails, so that the root router's own error handler answers.
 */
const comparedPlugin = createBackendPlugin({
  pluginId: 'example',
  register(env) {
    env.registerInit({
      deps: { http: coreServices.httpRouter, rootHttpRouter: coreServices.rootHttpRouter },
      async init({ http, rootHttpRouter }) {
        const router = Router();
        router.get('/hello', async (_req, res) => {
          res.json({ hello: 'world' });
        });
        router.get('/big', async (_req, res) => {
          res.json({ items: Array.from({ length: 200 }, (_, i) => `item number ${i}`) });
        });
        router.get('/missing', async () => {
          throw new NotFoundError('There is nothing here');
        });
        router.get('/boom', async () => {
          throw new Error('Something broke');
        });
        http.use(router);
        http.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
        rootHttpRouter.use('/root-refused', (_req, _res, next) => {
          next(new NotAllowedError('Not at the root'));
        });
      },
    });
  },
});

/**
 * Starts a real backend (Backstage's wiring, our httpRouter, real root lifecycle and health services) with the
 * given root router on a free loopback port, and the given `backend` config.
 */
export async function startRootRouterBackend(
  rootHttpRouter: ServiceFactory<RootHttpRouterService, 'root', 'singleton'>,
  backend: JsonObject,
): Promise<RootRouterBackend> {
  const instance = await startWebSocketBackend({
    features: [comparedPlugin],
    backend,
    rootHttpRouter,
  });
  try {
    await instance.started;
  } catch (error) {
    await instance.stop().catch(() => undefined);
    throw error;
  }
  return { baseUrl: instance.baseUrl, stop: () => instance.stop() };
}

/** An answer as a client sees it, without the `Date` header, which differs between any two answers. */
export async function answer(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${baseUrl}${path}`, { method, headers });
  const { date: _date, ...rest } = Object.fromEntries(res.headers);
  return { status: res.status, headers: rest, body: await res.text() };
}
