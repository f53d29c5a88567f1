import request from 'supertest';
import { createHttpRouterMetrics } from '../../metrics';
import { METRIC_NAMES } from '../../metrics';
import { createLimiter } from '../../rateLimit/limiter';
import { createRateLimitStore, rateLimitKeyPrefix } from '../../rateLimit/store';
import type { RateLimitOptions } from '../../rateLimit/types';
import { createRedisConnections } from '../../redis/connection';
import { EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { createTestApp } from '../helpers/createTestApp';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { redisRateLimit, startRateLimitBackend, budgetKey } from '../helpers/startRateLimitBackend';
import { waitUntil } from '../rateLimit/redis/waitUntil';

/** The store's timeout in the histogram tests: long enough for a healthy Redis on a busy machine. */
const TIMEOUT_MS = 1_000;

describe('Redis metrics', () => {
  let sdk: MetricsSdk;
  let redis: RedisServerHandle;
  const shutdowns: Array<() => unknown> = [];

  beforeEach(async () => {
    // Before anything opens a connection: instruments created while no SDK is registered stay no-ops.
    sdk = startMetricsSdk();
    redis = await startRedisServer({ password: 'p@ss word' });
  });

  afterEach(async () => {
    redis.resume();
    await Promise.all(shutdowns.splice(0).map(shutdown => shutdown()));
    await redis.stop();
    await sdk.stop();
  });

  /** The histogram's series as `error.type count`, with the sum of each, checked against the plugin. */
  const histogram = async () =>
    (await sdk.collect())
      .filter(point => point.name === METRIC_NAMES.rateLimitStoreDuration)
      .map(point => {
        expect(point).toMatchObject({
          type: 'histogram',
          unit: 's',
          attributes: { plugin: 'example', limiter: 'plugin-example' },
        });
        // How many waits ended within 100 ms, and how many took longer than the timeout.
        const bucketsUpTo = (seconds: number) =>
          point.boundaries!.filter(boundary => boundary <= seconds).length;
        const counts = point.bucketCounts!;
        const sum = (from: number, to?: number) =>
          counts.slice(from, to).reduce((total, count) => total + count, 0);
        return {
          series: `${point.attributes['error.type'] ?? 'answered'} ${point.count}`,
          sum: point.value,
          upTo100ms: sum(0, bucketsUpTo(0.1)),
          pastTimeout: sum(bucketsUpTo(TIMEOUT_MS / 1000)),
        };
      });

  describe('the fallback gauge, in a real backend', () => {
    /** The gauge's series as `connection value`. */
    const gauge = async () =>
      (await sdk.collect())
        .filter(point => point.name === METRIC_NAMES.redisFallback)
        .map(point => `${point.attributes.connection} ${point.value}`);

    it('reads 1 for the URL (without its password) while Redis is down, 0 once it is back, and 0 once closed', async () => {
      const backend = await startRateLimitBackend(redisRateLimit(redis), {
        policies: EXAMPLE_POLICIES,
      });
      const series = `redis://127.0.0.1:${redis.port}`;
      try {
        expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
        expect(await gauge()).toEqual([`${series} 0`]);

        await redis.kill();
        await waitUntil('the gauge shows the fallback', async () =>
          (await gauge()).includes(`${series} 1`),
        );
        // Fail open: requests go on, counted in memory.
        expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);

        await redis.restart();
        await waitUntil('the gauge shows Redis back', async () =>
          (await gauge()).includes(`${series} 0`),
        );

        await redis.kill();
        await waitUntil('the gauge shows the fallback again', async () =>
          (await gauge()).includes(`${series} 1`),
        );
      } finally {
        await backend.stop();
      }
      // The connection closed with the backend: no longer in fallback, where a probe left behind would read 1.
      expect(await gauge()).toEqual([`${series} 0`]);
    });
  });

  describe('the wait histogram, in a real backend', () => {
    it("records each count of the plugin's limiter with the plugin and limiter attributes", async () => {
      const backend = await startRateLimitBackend(redisRateLimit(redis), {
        policies: EXAMPLE_POLICIES,
      });
      try {
        for (let i = 0; i < 3; i++) {
          expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
        }
      } finally {
        await backend.stop();
      }

      const points = await histogram();
      expect(points.map(point => point.series)).toEqual(['answered 3']);
      expect(points[0].sum).toBeGreaterThan(0);
      expect(await redis.cli('GET', budgetKey('rl:plugin:example:', '127.0.0.1'))).toBe('3');
    });
  });

  describe('the wait histogram, around the shipped limiter', () => {
    /** A real express app with the limiter of plugin `example` over a Redis store that records on the SDK. */
    function createApp() {
      const options: RateLimitOptions = {
        windowMs: 60_000,
        limit: 1_000,
        ipAllowList: [],
        skipSuccessfulRequests: false,
        skipFailedRequests: false,
        passOnStoreError: true,
        store: { type: 'redis', connection: redis.url, timeoutMs: TIMEOUT_MS },
      };
      const store = createRateLimitStore({
        options,
        prefix: rateLimitKeyPrefix('example'),
        connections: createRedisConnections(),
        metrics: createHttpRouterMetrics({ pluginId: 'example' }).rateLimit('plugin-example'),
      });
      shutdowns.push(() => store.shutdown?.());
      const limiter = createLimiter({ options, pluginId: 'example', store });
      return createTestApp(limiter, (_req, res) => {
        res.send('ok');
      });
    }

    it('records one wait per count that Redis answered', async () => {
      const app = createApp();
      for (let i = 0; i < 5; i++) {
        expect((await request(app).get('/')).status).toBe(200);
      }

      const points = await histogram();
      expect(points.map(point => point.series)).toEqual(['answered 5']);
      expect(points[0].sum).toBeGreaterThan(0);
      // An answer comes within the timeout or not at all: no wait lands past the timeout's bucket.
      expect(points[0].pastTimeout).toBe(0);
      expect(await redis.cli('GET', 'rl:plugin:example:127.0.0.1')).toBe('5');
    });

    it('records the waits that a hung Redis (SIGSTOP) timed out, and none for counts the breaker answers at once', async () => {
      const app = createApp();
      expect((await request(app).get('/')).status).toBe(200);

      redis.pause();
      const statuses = await Promise.all(
        [1, 2].map(() =>
          request(app)
            .get('/')
            .then(response => response.status),
        ),
      );
      expect(statuses).toEqual([200, 200]);
      // The breaker is open now: these never wait for Redis.
      for (let i = 0; i < 3; i++) {
        expect((await request(app).get('/')).status).toBe(200);
      }

      const points = await histogram();
      expect(points.map(point => point.series).sort()).toEqual(['answered 1', 'timeout 2']);
      const timeouts = points.find(point => point.series.startsWith('timeout'));
      // Both waited out the timeout: neither lands in a bucket of 100 ms or less.
      expect(timeouts?.upTo100ms).toBe(0);
    });

    it('records a count that Redis refused with an error as error', async () => {
      const app = createApp();
      // A hash where the counter should be, with an expiry so that the script increments rather than resets it:
      // Redis answers the count with WRONGTYPE.
      await redis.cli('HSET', 'rl:plugin:example:127.0.0.1', 'field', 'value');
      await redis.cli('PEXPIRE', 'rl:plugin:example:127.0.0.1', '60000');

      expect((await request(app).get('/')).status).toBe(200);

      expect((await histogram()).map(point => point.series)).toEqual(['error 1']);
    });
  });
});
