import {
  coreServices,
  createBackendPlugin,
  createServiceFactory,
  type HttpRouterService,
  type RootHttpRouterService,
} from '@backstage/backend-plugin-api';
import { createSpecializedBackend } from '@backstage/backend-app-api';
import { mockServices } from '@backstage/backend-test-utils';
import express from 'express';
import { httpRouterServiceFactory } from '../../httpRouterServiceFactory';
import { startWebSocketBackend } from '../helpers/startWebSocketBackend';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

/** A plugin that hands its httpRouter to `use` during init and records what it throws. */
function createProbePlugin(use: (http: HttpRouterService) => void) {
  const errors: Error[] = [];
  const feature = createBackendPlugin({
    pluginId: 'probe',
    register(env) {
      env.registerInit({
        deps: { http: coreServices.httpRouter },
        async init({ http }) {
          try {
            use(http);
          } catch (error) {
            errors.push(error as Error);
          }
        },
      });
    },
  });
  return { feature, errors };
}

/** A root router as Backstage 0.18 has it: `use` only, no WebSocket routing. */
const rootRouterWithoutWebSockets = createServiceFactory({
  service: coreServices.rootHttpRouter,
  deps: {},
  factory() {
    const app = express();
    return {
      use: (path: string, handler: express.Handler) => app.use(path, handler),
    } as unknown as RootHttpRouterService;
  },
});

describe('registering WebSocket routes', () => {
  it('offers no addWebSocketHandler when the root router routes no upgrades, as upstream before 0.19', async () => {
    let offered: boolean | undefined;
    const probe = createProbePlugin(http => {
      offered = 'addWebSocketHandler' in http;
    });
    // Not startTestBackend: it reads its own root router's server, which is not there.
    const backend = createSpecializedBackend({
      defaultServiceFactories: [
        mockServices.rootConfig.factory(),
        mockServices.rootLogger.factory(),
        mockServices.rootLifecycle.factory(),
        mockServices.lifecycle.factory(),
        mockServices.logger.factory(),
        ...TEST_AUTH_SERVICES,
        httpRouterServiceFactory,
        rootRouterWithoutWebSockets,
      ],
    });
    backend.add(probe.feature);
    await backend.start();
    await backend.stop();
    expect(offered).toBe(false);
  });

  it('refuses a path without a leading slash, a second handler on one path and an unknown authPolicy, naming the plugin', async () => {
    const handler = () => undefined;
    const probe = createProbePlugin(http => {
      const attempts: Array<Parameters<HttpRouterService['addWebSocketHandler']>[0]> = [
        { path: 'events', handler },
        { path: '/events', handler },
        { path: '/events', handler },
        { path: '/other', handler, authPolicy: 'user-cookie' as 'unauthenticated' },
      ];
      for (const attempt of attempts) {
        try {
          http.addWebSocketHandler(attempt);
        } catch (error) {
          probe.errors.push(error as Error);
        }
      }
    });
    const backend = await startWebSocketBackend({ features: [probe.feature] });
    await backend.started;
    await backend.stop();
    expect(probe.errors.map(error => error.message)).toEqual([
      "addWebSocketHandler() of plugin 'probe' expects a path starting with '/', got \"events\"",
      "addWebSocketHandler() of plugin 'probe' could not register '/api/probe/events': WebSocket handler already registered for /api/probe/events",
      "addWebSocketHandler() of plugin 'probe' expects authPolicy 'unauthenticated' or none, got \"user-cookie\"",
    ]);
  });
});
