import {
  coreServices,
  createBackendPlugin,
  createServiceFactory,
  type RootHttpRouterService,
} from '@backstage/backend-plugin-api';
import express from 'express';
import { createProbePlugin } from '../helpers/createProbePlugin';
import { startWebSocketBackend } from '../helpers/startWebSocketBackend';

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

describe('addWebSocketHandler on each Backstage line', () => {
  it('offers no addWebSocketHandler when the root router routes no upgrades, as upstream before 0.19', async () => {
    let offered: boolean | undefined;
    const probe = createProbePlugin(http => {
      offered = 'addWebSocketHandler' in http;
    });
    const backend = await startWebSocketBackend({
      features: [probe],
      rootHttpRouter: rootRouterWithoutWebSockets,
    });
    await backend.started;
    await backend.stop();
    expect(offered).toBe(false);
  });

  it('offers addWebSocketHandler exactly when the installed root router routes upgrades (Backstage 0.19 on)', async () => {
    let offered: boolean | undefined;
    let routed: boolean | undefined;
    const probe = createProbePlugin(http => {
      offered = 'addWebSocketHandler' in http;
    });
    const rootProbe = createBackendPlugin({
      pluginId: 'root-probe',
      register(env) {
        env.registerInit({
          deps: { rootHttpRouter: coreServices.rootHttpRouter },
          async init({ rootHttpRouter }) {
            routed =
              typeof (rootHttpRouter as { addWebSocketHandler?: unknown }).addWebSocketHandler ===
              'function';
          },
        });
      },
    });
    const backend = await startWebSocketBackend({ features: [probe, rootProbe] });
    await backend.started;
    await backend.stop();
    expect(routed).toBeDefined();
    expect(offered).toBe(routed);
  });
});
