import { createSpecializedBackend } from '@backstage/backend-app-api';
import type {
  BackendFeature,
  RootHttpRouterService,
  ServiceFactory,
} from '@backstage/backend-plugin-api';
import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { rootHttpRouterServiceFactory } from '../../httpRouter/rootHttpRouterServiceFactory';
import { freePort } from './freePort';
import { TEST_AUTH_SERVICES } from './testAuthServices';

/** A backend started by {@link startWebSocketBackend}. */
export interface WebSocketBackend {
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  /** The `ws://` URL of a path on the backend. */
  wsUrl(path: string): string;
  /** Settles when the backend has started (every plugin's start-up done). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real backend with our httpRouter, `rootHttpRouter` (ours by default, whose upstream root router routes
 * upgrades), the test auth services and `features`, on a free loopback port, with `backend` config.
 *
 * @remarks
 * Not `startTestBackend`: its root router has no HTTP server, so it cannot route upgrades. The server listens
 * before any plugin's init runs, so a plugin whose init has run can be reached before `started` settles.
 */
export async function startWebSocketBackend(options: {
  features: BackendFeature[];
  backend?: JsonObject;
  rootHttpRouter?: ServiceFactory<RootHttpRouterService, 'root', 'singleton'>;
}): Promise<WebSocketBackend> {
  const { features, backend = {}, rootHttpRouter = rootHttpRouterServiceFactory } = options;
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const instance = createSpecializedBackend({
    defaultServiceFactories: [
      mockServices.rootConfig.factory({
        data: { backend: { ...backend, baseUrl, listen: { host: '127.0.0.1', port } } },
      }),
      mockServices.rootLogger.factory(),
      mockServices.rootLifecycle.factory(),
      mockServices.rootHealth.factory(),
      mockServices.lifecycle.factory(),
      mockServices.logger.factory(),
      ...TEST_AUTH_SERVICES,
      httpRouterServiceFactory,
      rootHttpRouter,
    ],
  });
  features.forEach(feature => instance.add(feature));
  const started = instance.start().then(() => undefined);
  started.catch(() => undefined);
  return {
    baseUrl,
    wsUrl: path => `ws://127.0.0.1:${port}${path}`,
    started,
    stop: () => instance.stop(),
  };
}
