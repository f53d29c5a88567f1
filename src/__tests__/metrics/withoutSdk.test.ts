import request from 'supertest';
import { METRIC_PREFIX } from '../../metrics';
import { EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { redisRateLimit, startRateLimitBackend } from '../helpers/startRateLimitBackend';
import { waitUntil } from '../rateLimit/redis/waitUntil';

describe('the router without an OpenTelemetry SDK', () => {
  let redis: RedisServerHandle;
  let sdk: MetricsSdk | undefined;

  const startBackend = () =>
    startRateLimitBackend(redisRateLimit(redis), { policies: EXAMPLE_POLICIES });

  /** The names of the router's series that the SDK holds. */
  const routerSeries = async () =>
    ((await sdk?.collect()) ?? [])
      .filter(point => point.name.startsWith(METRIC_PREFIX))
      .map(point => `${point.name} ${point.value}`);

  beforeEach(async () => {
    redis = await startRedisServer();
  });

  afterEach(async () => {
    await redis.stop();
    await sdk?.stop();
    sdk = undefined;
  });

  it('starts, serves and records nothing, even for an SDK registered once it runs', async () => {
    const backend = await startBackend();
    try {
      expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
      expect((await request(backend.server).get('/api/example/hello')).status).toBe(401);

      // Registered too late: what the router created at start-up came from OpenTelemetry's no-op meter.
      sdk = startMetricsSdk();
      await redis.kill();
      expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
      expect(await routerSeries()).toEqual([]);
    } finally {
      await backend.stop();
    }

    // The same backend started with that SDK registered does record: the check above could see values.
    await redis.restart();
    const recording = await startBackend();
    try {
      await redis.kill();
      await waitUntil('the gauge shows the fallback', async () =>
        (await routerSeries()).includes(`${METRIC_PREFIX}.rate_limit.redis.fallback 1`),
      );
    } finally {
      await recording.stop();
    }
  });
});
