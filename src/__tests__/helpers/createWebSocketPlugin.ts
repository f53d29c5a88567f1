import {
  coreServices,
  createBackendPlugin,
  type BackendFeature,
} from '@backstage/backend-plugin-api';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WebSocketUpgradeContext } from '../../httpRouter/types';

/** A WebSocket route of the test plugin. */
export interface TestWebSocketRoute {
  path: string;
  authPolicy?: 'unauthenticated';
}

/** The test plugin and what it saw. */
export interface WebSocketPlugin {
  feature: BackendFeature;
  /** The context of every upgrade the plugin's handler received, in order. */
  readonly upgrades: WebSocketUpgradeContext[];
  /** The plugin's end of every WebSocket it accepted. */
  readonly sockets: WebSocket[];
  /** Settles when the plugin's routes are registered; the server listens by then. */
  readonly initialized: Promise<void>;
}

/**
 * A plugin that accepts every upgrade its handler receives with `ws`, answers each socket with its principal
 * as the first message, and selects the protocol that authenticated it (as the signals plugin does).
 *
 * @param options - The plugin id (defaults to `example`), its routes (defaults to `/` with token auth), and a
 * promise its init waits for, which holds the backend's start-up (defaults to none), and a shutdown hook that
 * tells when it runs and holds the shutdown until `held` settles (defaults to none).
 */
export function createWebSocketPlugin(
  options: {
    pluginId?: string;
    routes?: TestWebSocketRoute[];
    startup?: Promise<void>;
    shutdown?: { started(): void; held: Promise<void> };
  } = {},
): WebSocketPlugin {
  const { pluginId = 'example', routes = [{ path: '/' }], startup, shutdown } = options;
  const upgrades: WebSocketUpgradeContext[] = [];
  const sockets: WebSocket[] = [];
  const protocols = new WeakMap<IncomingMessage, string>();
  let markInitialized!: () => void;
  const initialized = new Promise<void>(resolve => (markInitialized = resolve));
  const server = new WebSocketServer({
    noServer: true,
    handleProtocols: (_offered, request) => protocols.get(request) ?? false,
  });
  const feature = createBackendPlugin({
    pluginId,
    register(env) {
      env.registerInit({
        deps: { http: coreServices.httpRouter, lifecycle: coreServices.lifecycle },
        async init({ http, lifecycle }) {
          if (shutdown) {
            lifecycle.addShutdownHook(() => {
              shutdown.started();
              return shutdown.held;
            });
          }
          for (const route of routes) {
            http.addWebSocketHandler({
              ...route,
              handler(context) {
                upgrades.push(context);
                if (context.authProtocol) {
                  protocols.set(context.request, context.authProtocol);
                }
                server.handleUpgrade(context.request, context.socket, context.head, socket => {
                  sockets.push(socket);
                  socket.send(JSON.stringify(context.credentials.principal));
                });
              },
            });
          }
          markInitialized();
          await startup;
        },
      });
    },
  });
  return { feature, upgrades, sockets, initialized };
}
