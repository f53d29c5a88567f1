import {
  coreServices,
  createServiceFactory,
  type RootHttpRouterService,
} from '@backstage/backend-plugin-api';
import { httpRouterServiceFactory as upstreamHttpRouterServiceFactory } from '@backstage/backend-defaults/httpRouter';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { rootHttpRouterServiceFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { createSpecializedBackend } from '@backstage/backend-app-api';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpRouterServiceFactory } from '../src';
import { createBackendConfig } from './createBackendConfig';
import { createBenchMetricsService } from './createBenchMetricsService';
import { createBenchPlugin } from './createBenchPlugin';
import { listenOnLoopback, type LoopbackServer } from './listenOnLoopback';
import type { ServerSpec } from './types';

/** A started backend: where it listens and how to stop it. */
export interface StartedBackend {
  port: number;
  stop(): Promise<void>;
}

/**
 * A root router that is nothing but a plain express app on 127.0.0.1.
 *
 * @remarks
 * Plugins mount on it exactly as on the real one, so what a request pays for is the plugin stack alone.
 */
function createPlainRootHttpRouter(onListen: (server: LoopbackServer) => void) {
  return createServiceFactory({
    service: coreServices.rootHttpRouter,
    deps: { lifecycle: coreServices.rootLifecycle },
    async factory({ lifecycle }): Promise<RootHttpRouterService> {
      const app = express();
      const server = await listenOnLoopback(app);
      lifecycle.addShutdownHook(() => server.close());
      onListen(server);
      return {
        use(path, handler) {
          app.use(path, handler);
        },
        addWebSocketHandler({ path }) {
          throw new Error(
            `The bench's plain root router routes no WebSockets (asked for '${path}')`,
          );
        },
      };
    },
  });
}

/** Upstream's production root router, with a hook that reports the port its server listens on. */
function createFullRootHttpRouter(onListen: (port: number) => void) {
  return rootHttpRouterServiceFactory({
    configure({ server, applyDefaults }: { server: Server; applyDefaults(): void }) {
      server.once('listening', () => onListen((server.address() as AddressInfo).port));
      applyDefaults();
    },
  });
}

/**
 * Starts a backend with the bench plugin and either our httpRouter factory or upstream's.
 *
 * @remarks
 * Built the way `startTestBackend` builds its backend (`createSpecializedBackend` plus
 * `mockServices`), because `startTestBackend` itself cannot run with a root router of our own: it
 * returns `Object.assign(backend, { get server() … })`, which reads the getter, and the getter throws
 * when its own root router was replaced. Auth, httpAuth and the loggers are the same mocks for both
 * factories: `Authorization: Bearer mock-service-token` gives service credentials, a request without a
 * token gets none (so it is refused unless a policy opens its path), and the log level is `none`, so
 * request logging in the full stack formats its line and drops it.
 *
 * With `metricsSdk`, the backend gets a real OpenTelemetry SDK as its metrics service
 * ({@link createBenchMetricsService}).
 *
 * @param spec - which factory, which root stack, how many policies, which rate-limit store.
 */
export async function startFactoryBackend(spec: ServerSpec): Promise<StartedBackend> {
  let port: number | undefined;
  const rootHttpRouter =
    spec.stack === 'plugin'
      ? createPlainRootHttpRouter(server => (port = server.port))
      : createFullRootHttpRouter(listening => (port = listening));
  const metricsSdk = spec.metricsSdk ? createBenchMetricsService() : undefined;
  const backend = createSpecializedBackend({
    defaultServiceFactories: [
      mockServices.auth.factory(),
      ...(spec.realHttpAuth
        ? [httpAuthServiceFactory, mockServices.discovery.factory()]
        : // Without this, a request with no token gets the mock's default user and never a 401.
          [mockServices.httpAuth.factory({ defaultCredentials: mockCredentials.none() })]),
      mockServices.lifecycle.factory(),
      mockServices.logger.factory(),
      mockServices.rootHealth.factory(),
      mockServices.rootLifecycle.factory(),
      mockServices.rootLogger.factory(),
      mockServices.rootConfig.factory({ data: createBackendConfig(spec) }),
      rootHttpRouter,
      spec.kind === 'ours' ? httpRouterServiceFactory : upstreamHttpRouterServiceFactory,
      ...(metricsSdk ? [metricsSdk.factory] : []),
    ],
  });
  backend.add(createBenchPlugin(spec.policies));
  const stop = async () => {
    await backend.stop();
    await metricsSdk?.stop();
  };
  await backend.start();
  if (port === undefined) {
    await stop();
    throw new Error(`the ${spec.kind} backend started but its port is unknown`);
  }
  return { port, stop };
}
