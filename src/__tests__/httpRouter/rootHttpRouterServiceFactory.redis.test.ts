import { budgetKey, TEST_KEY_SECRET } from '../helpers/startRateLimitBackend';
import { rootHttpRouterServiceFactory as upstreamRootHttpRouterServiceFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { METRIC_NAMES } from '../../metrics';
import { rootHttpRouterServiceFactory } from '../../httpRouter/rootHttpRouterServiceFactory';
import { freePort } from '../helpers/freePort';
import { type MetricsSdk, startMetricsSdk } from '../helpers/metricsSdk';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import {
  answer,
  type RootRouterBackend,
  startRootRouterBackend,
} from '../helpers/startRootRouterBackend';

describe('rootHttpRouterServiceFactory with a Redis store', () => {
  const STORE_TIMEOUT_MS = 2_000;
  let redis: RedisServerHandle;
  let backend: RootRouterBackend;
  let sdk: MetricsSdk;

  /** How many counts waited for Redis and got no answer, by why (`timeout`, `error`). */
  const failedWaits = async () => {
    const counts: Record<string, number> = {};
    for (const point of await sdk.collect()) {
      const failure = point.attributes['error.type'];
      if (point.name === METRIC_NAMES.rateLimitStoreDuration && failure !== undefined) {
        counts[String(failure)] = (counts[String(failure)] ?? 0) + (point.count ?? 0);
      }
    }
    return counts;
  };

  beforeAll(async () => {
    sdk = startMetricsSdk();
    redis = await startRedisServer();
    backend = await startRootRouterBackend(rootHttpRouterServiceFactory, {
      rateLimit: {
        ipAllowList: [],
        store: { type: 'redis', connection: redis.url, timeout: `${STORE_TIMEOUT_MS}ms` },
        keySecret: TEST_KEY_SECRET,
      },
    });
  });

  afterAll(async () => {
    await backend.stop();
    await redis.stop();
    await sdk.stop();
  });

  /** Every request is answered (a hung one would fail on jest's timeout), counted in memory meanwhile. */
  async function expectAnswers() {
    const answers = [
      await answer(backend.baseUrl, 'GET', '/api/example/hello'),
      ...(await Promise.all(
        Array.from({ length: 5 }, () => answer(backend.baseUrl, 'GET', '/api/example/hello')),
      )),
      await answer(backend.baseUrl, 'GET', '/.backstage/health/v1/readiness'),
    ];
    expect(answers.map(res => res.status)).toEqual(Array(7).fill(200));
    expect(answers[0].headers['ratelimit-policy']).toMatch(/^"global"; q=1000; w=60;/);
  }

  it('counts every client in Redis under our all-plugins key', async () => {
    await answer(backend.baseUrl, 'GET', '/api/example/hello');
    await answer(backend.baseUrl, 'GET', '/api/example/hello');
    expect(Number(await redis.cli('GET', budgetKey('rl:global:', '127.0.0.1')))).toBe(2);
  });

  it('answers while Redis is frozen (SIGSTOP), one count waiting out store.timeout and none after it', async () => {
    redis.pause();
    try {
      await expectAnswers();
      expect(await failedWaits()).toEqual({ timeout: 1 });
    } finally {
      redis.resume();
    }
  });

  it('answers once Redis is killed, without waiting for it', async () => {
    await redis.kill();
    await expectAnswers();
    // At most one count saw the connection fail; the breaker answered every other one at once.
    const after = await failedWaits();
    expect(after.timeout).toBe(1);
    expect(after.error ?? 0).toBeLessThanOrEqual(1);
  });
});

describe('rootHttpRouterServiceFactory with a comma-separated Redis Cluster URL', () => {
  it("starts and serves where upstream's factory stops the backend with 'Invalid URL'", async () => {
    // Nothing listens on these ports: our store starts while Redis is unreachable and counts in memory.
    const connection = `redis://127.0.0.1:${await freePort()},redis://127.0.0.1:${await freePort()}`;
    const config = { rateLimit: { ipAllowList: [], store: { type: 'redis', connection } } };
    await expect(
      startRootRouterBackend(upstreamRootHttpRouterServiceFactory, config),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_URL' });

    const ours = await startRootRouterBackend(rootHttpRouterServiceFactory, config);
    try {
      const res = await answer(ours.baseUrl, 'GET', '/api/example/hello');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-policy']).toMatch(/^"global"; q=1000; w=60;/);
    } finally {
      await ours.stop();
    }
  });
});
