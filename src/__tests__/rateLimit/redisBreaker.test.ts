import { budgetKey } from '../helpers/startRateLimitBackend';
import { mockServices } from '@backstage/backend-test-utils';
import { METRIC_NAMES } from '../../metrics';
import { type MetricsSdk, startMetricsSdk } from '../helpers/metricsSdk';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { createLimitedApp, redisStore, sendRequests } from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

/** Long enough for a healthy Redis on a busy machine; a hung one waits it out once. */
const TIMEOUT_MS = 1_000;
const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store while Redis hangs (SIGSTOP)', () => {
  let redis: RedisServerHandle;
  let sdk: MetricsSdk;
  let apps: Array<ReturnType<typeof createLimitedApp>>;

  const createApp = (pluginId: string, passOnStoreError = true) => {
    const app = createLimitedApp({
      store: redisStore(redis.url, `${TIMEOUT_MS}ms`),
      pluginId,
      global: true,
      limit: 1_000,
      passOnStoreError,
      logger: mockServices.logger.mock(),
      outageSettleMs: 200,
    });
    apps.push(app);
    return app;
  };
  const resumesCounting = async (app: ReturnType<typeof createApp>, pluginId: string) => {
    redis.resume();
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', budgetKey(`rl:plugin:${pluginId}:`, CLIENT_B))) === '1';
    });
  };
  /** The counts that waited for Redis, by how the wait ended (`ok`, `timeout`, `error`), across both limiters. */
  const waits = async () => {
    const counts: Record<string, number> = {};
    for (const point of await sdk.collect()) {
      if (point.name === METRIC_NAMES.rateLimitStoreDuration) {
        const outcome = String(point.attributes['error.type'] ?? 'ok');
        counts[outcome] = (counts[outcome] ?? 0) + (point.count ?? 0);
      }
    }
    return counts;
  };

  beforeEach(async () => {
    apps = [];
    sdk = startMetricsSdk();
    redis = await startRedisServer();
  });
  afterEach(async () => {
    redis.resume();
    await Promise.all(apps.map(app => app.shutdown()));
    await redis.stop();
    await sdk.stop();
  });

  it.each([
    ['fails open', true, 200],
    ['fails closed', false, 503],
  ])(
    'when it %s, one count across both limiters waits out store.timeout, then requests skip Redis until it is back',
    async (_case, passOnStoreError, status) => {
      const app = createApp('breaker', passOnStoreError);
      expect(await sendRequests(app, CLIENT_A, 1)).toEqual([200]);
      expect(await waits()).toEqual({ ok: 2 });

      redis.pause();
      expect(await sendRequests(app, CLIENT_A, 11)).toEqual(Array(11).fill(status));
      // The all-plugins limiter's count timed out; every later count, of either limiter, did not wait.
      expect(await waits()).toEqual({ ok: 2, timeout: 1 });

      await resumesCounting(app, 'breaker');
      expect(await redis.cli('EXISTS', budgetKey('rl:global:', CLIENT_B))).toBe('1');
    },
  );

  it('does not count in Redis the hits it answered without Redis once Redis works through its queue', async () => {
    const app = createApp('replay');
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);

    redis.pause();
    const during = await Promise.all(
      Array.from({ length: 20 }, () => sendRequests(app, CLIENT_A, 1)),
    );
    during.push(await sendRequests(app, CLIENT_A, 5));
    expect(during.flat()).toEqual(Array(25).fill(200));
    await resumesCounting(app, 'replay');

    // Only the three hits counted before Redis hung; none of those answered from memory meanwhile.
    expect(await redis.cli('GET', budgetKey('rl:plugin:replay:', CLIENT_A))).toBe('3');
    expect(await redis.cli('GET', budgetKey('rl:global:', CLIENT_A))).toBe('3');
  });
});
