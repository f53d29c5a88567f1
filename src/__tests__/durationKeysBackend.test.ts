import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { httpRouterServiceFactory } from '../httpRouter/httpRouterServiceFactory';
import { createExamplePlugin } from './helpers/createExamplePlugin';
import { type RedisServerHandle, startRedisServer } from './helpers/redisServer';
import { TEST_AUTH_SERVICES } from './helpers/testAuthServices';

/** Longer than the longest delay a Node.js timer accepts (2^31-1 ms, about 24.8 days). */
const TOO_LONG = '30d';

/** Starts a real backend with the example plugin and the given `backend` config, and returns what it threw. */
async function startupError(backend: JsonObject): Promise<unknown> {
  const started = await startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      createExamplePlugin(),
      mockServices.rootConfig.factory({ data: { backend } }),
    ],
  }).then(
    async running => {
      await running.stop();
      return undefined;
    },
    (error: unknown) => error,
  );
  if (started === undefined) {
    throw new Error('expected the backend to refuse to start');
  }
  return started;
}

/**
 * What a backend that refused to start says about `key`. Backstage reports a plugin's start-up failure as one
 * `BackendStartupError` whose message quotes ours (the error itself, with its code, is not kept as a cause).
 */
const refusal = (key: string) =>
  `HttpRouterConfigError: Invalid config at '${key}': expected at most 2147483647 ms (about 24 days)`;

// Past 2^31-1 ms Node.js fires a timer after 1 ms, so these durations must stop the start-up.
describe('duration keys too long for a timer, in a real backend', () => {
  let redis: RedisServerHandle | undefined;

  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  it('refuses backend.lifecycle.startupRequestPauseTimeout: 30d, which would answer 503 after 1 ms', async () => {
    const error = await startupError({ lifecycle: { startupRequestPauseTimeout: TOO_LONG } });

    expect(String(error)).toContain(refusal('backend.lifecycle.startupRequestPauseTimeout'));
  });

  it('refuses backend.rateLimit.store.timeout: 30d, which would time out every count against a healthy Redis', async () => {
    redis = await startRedisServer();
    const error = await startupError({
      rateLimit: {
        global: false,
        store: { type: 'redis', connection: redis.url, timeout: TOO_LONG },
        plugin: { example: {} },
      },
    });

    expect(String(error)).toContain(refusal('backend.rateLimit.store.timeout'));
  });

  it('refuses backend.rateLimit.plugin.<pluginId>.store.timeout: 30d, naming the plugin block', async () => {
    redis = await startRedisServer();
    const error = await startupError({
      rateLimit: {
        global: false,
        plugin: {
          example: { store: { type: 'redis', connection: redis.url, timeout: { days: 30 } } },
        },
      },
    });

    expect(String(error)).toContain(refusal('backend.rateLimit.plugin.example.store.timeout'));
  });

  it('refuses backend.rateLimit.window: 30d with the memory store, whose sweeper is a timer', async () => {
    const error = await startupError({
      rateLimit: { global: false, window: TOO_LONG, plugin: { example: {} } },
    });

    expect(String(error)).toContain(refusal('backend.rateLimit.window'));
  });
});
