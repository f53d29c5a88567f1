import { HEALTHY_REDIS_TIMEOUT } from '../../helpers/redisServer';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import express, { type Handler } from 'express';
import request from 'supertest';
import { createErrorHandler } from '../../../middleware/createErrorHandler';
import { createRateLimitContext } from '../../../rateLimit/context';
import { createRateLimitHandler } from '../../../rateLimit/createRateLimitMiddleware';
import { createTestLifecycle } from '../../helpers/createTestLifecycle';
import { TEST_KEY_SECRET } from '../../helpers/startRateLimitBackend';

/** The plugin whose limiter the app runs when a test names none. */
export const TEST_PLUGIN_ID = 'test';

/** Options for {@link createLimitedApp}. */
export interface LimitedAppOptions {
  /** `backend.rateLimit.store`, for example `{ type: 'redis', connection, timeout: '100ms' }`. */
  store: JsonObject;
  /** `incomingRequestLimit`. */
  limit: number;
  /** The plugin limited by `backend.rateLimit.plugin.<pluginId>`. Defaults to {@link TEST_PLUGIN_ID}. */
  pluginId?: string;
  /** `window`. Defaults to `'1m'`. */
  window?: string;
  /** `passOnStoreError`. Defaults to `true`. */
  passOnStoreError?: boolean;
  /** Runs the all-plugins limiter too, in front of the plugin's, with the same store. Defaults to `false`. */
  global?: boolean;
  /** Receives the limiters' and stores' logs. Defaults to a mock logger. */
  logger?: LoggerService;
  /** How long Redis must answer without a failure before an outage is logged as over. Defaults to 5 s. */
  outageSettleMs?: number;
}

/**
 * An express app limited by the shipped limiters, read from config like a backend's, answering `ok` and ending with
 * the plugin error handler.
 *
 * @remarks
 * Clients are told apart by `X-Forwarded-For`, which the app trusts (`trust proxy`), since every test request
 * comes from 127.0.0.1; the allow list is emptied for the same reason. Counters land under
 * `budgetKey('rl:plugin:<pluginId>:', <client address>)` (and `rl:global:` with `global`). `shutdown()` runs
 * the limiters' lifecycle shutdown hooks, which give back the Redis connection.
 */
export function createLimitedApp(options: LimitedAppOptions) {
  const {
    store,
    limit,
    pluginId = TEST_PLUGIN_ID,
    window = '1m',
    passOnStoreError = true,
    global = false,
    logger = mockServices.logger.mock(),
    outageSettleMs,
  } = options;
  const config = mockServices.rootConfig({
    data: {
      backend: {
        rateLimit: {
          global,
          ipAllowList: [],
          incomingRequestLimit: limit,
          window,
          passOnStoreError,
          store,
          keySecret: TEST_KEY_SECRET,
          plugin: { [pluginId]: {} },
        },
      },
    },
  });
  const { lifecycle, shutdown } = createTestLifecycle();
  const app = express();
  app.set('trust proxy', true);
  // One context for both limiters, as in a backend: one Redis connection.
  const context = createRateLimitContext({ config, logger, lifecycle, outageSettleMs });
  if (global) {
    app.use(createRateLimitHandler(context, {}));
  }
  app.use(createRateLimitHandler(context, { pluginId }));
  const answer: Handler = (_req, res) => {
    res.send('ok');
  };
  app.use(answer);
  app.use(createErrorHandler({ logger }));
  open.add(shutdown);
  return Object.assign(app, {
    shutdown: async () => {
      open.delete(shutdown);
      await shutdown();
    },
  });
}

/** The shutdowns of the apps not shut down yet. */
const open = new Set<() => Promise<void>>();

/** Shuts down every app {@link createLimitedApp} made that is still open, giving back its Redis connections. */
export async function shutdownLimitedApps(): Promise<void> {
  const shutdowns = [...open];
  open.clear();
  await Promise.all(shutdowns.map(shutdown => shutdown()));
}

/** The app {@link createLimitedApp} returns. */
export type LimitedApp = ReturnType<typeof createLimitedApp>;

/** Sends one request as `client` (an IP address). */
export function sendRequest(app: LimitedApp, client: string) {
  return request(app).get('/').set('X-Forwarded-For', client);
}

/** Sends `count` requests as `client` (an IP address) one after the other and returns their statuses. */
export async function sendRequests(
  app: LimitedApp,
  client: string,
  count: number,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    statuses.push((await sendRequest(app, client)).status);
  }
  return statuses;
}

/** Sends one request as `client` and returns its status and how long the answer took, in milliseconds. */
export async function timedRequest(
  app: LimitedApp,
  client: string,
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await sendRequest(app, client);
  return { status: response.status, ms: performance.now() - started };
}

/** `backend.rateLimit.store` for a Redis store. */
export function redisStore(
  connection: string | string[],
  timeout: string = HEALTHY_REDIS_TIMEOUT,
): JsonObject {
  return { type: 'redis', connection, timeout };
}
