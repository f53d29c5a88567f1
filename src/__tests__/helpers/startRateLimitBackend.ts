import { HEALTHY_REDIS_TIMEOUT } from './redisServer';
import type { BackendFeature, HttpRouterServiceAuthPolicy } from '@backstage/backend-plugin-api';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { createHmac } from 'node:crypto';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createExamplePlugin } from './createExamplePlugin';
import { TEST_AUTH_SERVICES } from './testAuthServices';

/** A backend started by `startTestBackend`. */
export type TestBackend = Awaited<ReturnType<typeof startTestBackend>>;

/**
 * Starts a real backend with our `httpRouter` factory, the test auth services and the example plugin, configured
 * with `backend.rateLimit` set to `rateLimit`.
 *
 * @param options - `policies` the example plugin opens (defaults to none); more `features`, such as a log
 * collector (defaults to none).
 */
export function startRateLimitBackend(
  rateLimit: JsonObject,
  options: { policies?: HttpRouterServiceAuthPolicy[]; features?: BackendFeature[] } = {},
): Promise<TestBackend> {
  const { policies, features = [] } = options;
  return startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      ...features,
      createExamplePlugin({ policies }),
      mockServices.rootConfig.factory({ data: { backend: { rateLimit } } }),
    ],
  });
}

/** The `keySecret` of the tests' Redis configs, so that they can name the keys a budget counts under. */
export const TEST_KEY_SECRET = 'test-key-secret';

/** The store key of `key` under `prefix`, keyed with {@link TEST_KEY_SECRET} as the limiters key it. */
export function budgetKey(prefix: string, key: string): string {
  return `${prefix}${createHmac('sha256', TEST_KEY_SECRET).update(key).digest('base64url').slice(0, 27)}`;
}

/**
 * `backend.rateLimit` for the example plugin alone, counting in the Redis at `redis.url`, plus `keys`.
 *
 * @remarks
 * No all-plugins limiter, and an empty allow list: test requests come from 127.0.0.1, which the default exempts.
 */
export function redisRateLimit(redis: { url: string }, keys: JsonObject = {}): JsonObject {
  return {
    global: false,
    ipAllowList: [],
    store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
    keySecret: TEST_KEY_SECRET,
    plugin: { example: {} },
    ...keys,
  };
}
