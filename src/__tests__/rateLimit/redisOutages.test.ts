import { mockServices, mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { METRIC_NAMES } from '../../metrics';
import { createLogCollector } from '../helpers/createLogCollector';
import { type MetricsSdk, startMetricsSdk } from '../helpers/metricsSdk';
import {
  HEALTHY_REDIS_TIMEOUT,
  OUTAGE_TIMEOUT_MS,
  type RedisServerHandle,
  startRedisServer,
} from '../helpers/redisServer';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';
import { budgetKey, redisRateLimit, startRateLimitBackend } from '../helpers/startRateLimitBackend';
import { type SlowProxy, startSlowProxy } from '../helpers/startSlowProxy';
import {
  createLimitedApp,
  type LimitedApp,
  redisStore,
  sendRequest,
  sendRequests,
} from './redis/createLimitedApp';
import { waitUntil } from '../helpers/waitUntil';

/** How long Redis must answer before an outage is reported over, shortened for these tests. */
const SETTLE_MS = 200;
const OUTAGE_TIMEOUT = `${OUTAGE_TIMEOUT_MS}ms`;
/** The warning of a store whose Redis hung past {@link OUTAGE_TIMEOUT_MS}. */
const HUNG = new RegExp(`did not answer within ${OUTAGE_TIMEOUT_MS} ms`);

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store when Redis fails', () => {
  let redis: RedisServerHandle;
  let logger: ReturnType<typeof mockServices.logger.mock>;

  let apps: LimitedApp[];

  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
  const createApp = (
    pluginId: string,
    limit: number,
    passOnStoreError = true,
    timeout = OUTAGE_TIMEOUT,
  ) => {
    const app = createLimitedApp({
      store: redisStore(redis.url, timeout),
      pluginId,
      limit,
      passOnStoreError,
      logger,
      outageSettleMs: SETTLE_MS,
    });
    apps.push(app);
    return app;
  };
  /** Each request's status; a request that hung would fail the test on jest's timeout. */
  const statusOf = (app: LimitedApp, client: string) =>
    sendRequest(app, client).then(response => response.status);

  beforeEach(async () => {
    apps = [];
    logger = mockServices.logger.mock();
    redis = await startRedisServer();
  });
  afterEach(async () => {
    redis.resume();
    await Promise.all(apps.map(app => app.shutdown()));
    await redis.stop();
  });

  it('answers every request when Redis is killed under load, limits in memory, and moves back to Redis after a restart', async () => {
    const app = createApp('load', 1_000);
    const floodable = createApp('flood', 5);
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:load:', CLIENT_A))).toBe('3');

    const during = Array.from({ length: 30 }, () => statusOf(app, CLIENT_A));
    await redis.kill();
    const after = Array.from({ length: 20 }, () => statusOf(app, CLIENT_A));
    expect(await Promise.all([...during, ...after])).toEqual(Array(50).fill(200));
    expect(await sendRequests(floodable, '203.0.113.9', 8)).toEqual([
      200, 200, 200, 200, 200, 429, 429, 429,
    ]);
    // One warning per connection: each app is a backend of its own.
    expect(warnings()).toEqual([
      expect.stringMatching(/ is unreachable \(/),
      expect.stringMatching(/ is unreachable \(/),
    ]);
    expect(logger.error).not.toHaveBeenCalled();

    await redis.restart();
    await waitUntil('the store reports Redis back', () => warnings().length > 2);
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', budgetKey('rl:plugin:load:', CLIENT_B))) === '1';
    });
    expect(warnings()[2]).toMatch(/is reachable again/);
  });

  it('answers every request while Redis hangs, and counts in Redis once it answers again', async () => {
    const app = createApp('hang', 100);
    expect(await sendRequests(app, CLIENT_A, 1)).toEqual([200]);

    redis.pause();
    const results = await Promise.all(Array.from({ length: 10 }, () => statusOf(app, CLIENT_A)));
    expect(results).toEqual(Array(10).fill(200));
    expect(warnings()).toEqual([expect.stringMatching(HUNG)]);

    redis.resume();
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', budgetKey('rl:plugin:hang:', CLIENT_B))) === '1';
    });
    await waitUntil('the store reports Redis back', () => warnings().length > 1);
    expect(warnings()).toEqual([
      expect.stringMatching(HUNG),
      expect.stringMatching(/is reachable again/),
    ]);
  });

  it('keeps each store to its own timeout: a late answer is an outage only for the store it is late for', async () => {
    const short = createApp('short', 100);
    const long = createApp('long', 100, true, HEALTHY_REDIS_TIMEOUT);
    expect(await sendRequests(short, CLIENT_A, 1)).toEqual([200]);
    expect(await sendRequests(long, CLIENT_A, 1)).toEqual([200]);

    // Redis answers once the short store has given up: late for it, in time for the long one.
    redis.pause();
    const requests = Promise.all([statusOf(short, CLIENT_B), statusOf(long, CLIENT_B)]);
    await waitUntil('the short store gives up', () => warnings().length === 1);
    redis.resume();
    expect(await requests).toEqual([200, 200]);
    // The long store counted in Redis and saw no outage; only the short one did.
    expect(await redis.cli('GET', budgetKey('rl:plugin:long:', CLIENT_B))).toBe('1');
    expect(warnings()).toEqual([expect.stringMatching(HUNG)]);
  });

  it('keeps counting in Redis, with no error reaching a client, after SCRIPT FLUSH and FLUSHALL', async () => {
    const app = createApp('flush', 100, true, HEALTHY_REDIS_TIMEOUT);
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);

    await redis.cli('SCRIPT', 'FLUSH');
    const afterScriptFlush = await Promise.all(
      Array.from({ length: 5 }, () => statusOf(app, CLIENT_A)),
    );
    expect(afterScriptFlush).toEqual([200, 200, 200, 200, 200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:flush:', CLIENT_A))).toBe('8');

    await redis.cli('FLUSHALL');
    expect(await sendRequests(app, CLIENT_A, 2)).toEqual([200, 200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:flush:', CLIENT_A))).toBe('2');
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('answers 503 with Retry-After and Backstage error body while Redis is down when it fails closed, and recovers', async () => {
    const app = createApp('closed', 100, false);
    expect(await sendRequests(app, CLIENT_A, 1)).toEqual([200]);

    await redis.kill();
    const refused = await sendRequest(app, CLIENT_A);

    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toEqual({
      error: { name: 'ServiceUnavailableError', message: expect.any(String) },
      request: { method: 'GET', url: '/' },
      response: { statusCode: 503 },
    });
    // Neither the store's message nor its cause (an address, a timeout) reaches the client.
    expect(refused.body.error.message).not.toMatch(/Redis|127\.0\.0\.1|ECONNREFUSED/);

    await redis.restart();
    await waitUntil('requests go through again', async () => {
      const response = await sendRequest(app, CLIENT_B);
      return response.status === 200;
    });
    expect(await redis.cli('GET', budgetKey('rl:plugin:closed:', CLIENT_B))).toBe('1');
  });
});

describe('the Redis rate-limit store while Redis hangs (SIGSTOP)', () => {
  let redis: RedisServerHandle;
  let sdk: MetricsSdk;
  let apps: Array<ReturnType<typeof createLimitedApp>>;

  const createApp = (pluginId: string, passOnStoreError = true) => {
    const app = createLimitedApp({
      store: redisStore(redis.url, OUTAGE_TIMEOUT),
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

describe('a Redis that answers each command within store.timeout', () => {
  const ALICE = mockCredentials.user.header('user:default/alice');
  const BOB = mockCredentials.user.header('user:default/bob');
  /** Each reply of Redis comes this late: well within the timeout, but three in turn are longer. */
  const REPLY_DELAY_MS = 150;
  const TIMEOUT_MS = 400;

  /**
   * Two layers with per-principal budgets: each request reads two failed-authentication counts (in parallel),
   * then counts in the all-plugins user budget and in the plugin's, one after the other.
   */
  function slowRedisRateLimit(proxy: SlowProxy, keys: JsonObject): JsonObject {
    return {
      ipAllowList: [],
      failedAuthenticationLimit: 100,
      store: { type: 'redis', connection: proxy.url, timeout: { milliseconds: TIMEOUT_MS } },
      plugin: { example: {} },
      ...keys,
    };
  }

  const hello = (backend: { server: Parameters<typeof request>[0] }, user: string) =>
    request(backend.server).get('/api/example/hello').set('Authorization', user);

  let redis: RedisServerHandle;
  let proxy: SlowProxy;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  beforeEach(async () => {
    await redis.cli('FLUSHALL');
    proxy = await startSlowProxy(redis.port);
  });

  afterEach(async () => {
    await proxy.stop();
  });

  afterAll(async () => {
    await redis.stop();
  });

  it('keeps a user budget shared by two backends when failing open', async () => {
    const logs = createLogCollector();
    const rateLimit = slowRedisRateLimit(proxy, { userRequestLimit: 2 });
    const first = await startCountingAuthBackend(rateLimit, logs);
    const second = await startCountingAuthBackend(rateLimit, logs);
    try {
      // Connect and load the scripts of every budget at full speed, as another user.
      expect((await hello(first, BOB)).status).toBe(200);
      expect((await hello(second, BOB)).status).toBe(200);
      proxy.setDelay(REPLY_DELAY_MS);
      const statuses = [];
      for (let i = 0; i < 2; i++) {
        statuses.push((await hello(first, ALICE)).status, (await hello(second, ALICE)).status);
      }
      expect(statuses).toEqual([200, 200, 429, 429]);
      expect(logs.messages('warn').filter(line => /unreachable/.test(line))).toEqual([]);
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it('never answers 503 when failing closed', async () => {
    const logs = createLogCollector();
    const backend = await startCountingAuthBackend(
      slowRedisRateLimit(proxy, { userRequestLimit: 100, passOnStoreError: false }),
      logs,
    );
    try {
      expect((await hello(backend, BOB)).status).toBe(200);
      proxy.setDelay(REPLY_DELAY_MS);
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await hello(backend, ALICE)).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200]);
      expect(logs.messages('warn').filter(line => /unreachable/.test(line))).toEqual([]);
    } finally {
      await backend.stop();
    }
  });
});

/** Refused requests in the flood; each used to log two error lines. */
const REQUESTS = 40;

describe('a backend whose Redis store fails closed while Redis hangs', () => {
  let redis: RedisServerHandle;
  let backend: Awaited<ReturnType<typeof startTestBackend>>;
  const logs = createLogCollector();

  beforeAll(async () => {
    redis = await startRedisServer();
    backend = await startRateLimitBackend(
      redisRateLimit(redis, {
        incomingRequestLimit: 1000,
        passOnStoreError: false,
        store: { type: 'redis', connection: redis.url, timeout: OUTAGE_TIMEOUT },
      }),
      { features: [logs.factory] },
    );
  });

  afterAll(async () => {
    redis.resume();
    await backend.stop();
    await redis.stop();
  });

  it('refuses every request with 503 and logs the outage once, not a line per request', async () => {
    const hello = () =>
      request(backend.server)
        .get('/api/example/hello')
        .set('Authorization', mockCredentials.user.header());
    expect((await hello()).status).toBe(200);
    const before = logs.lines.length;

    redis.pause();
    const responses = await Promise.all(Array.from({ length: REQUESTS }, hello));
    expect(responses.map(res => res.status)).toEqual(responses.map(() => 503));
    expect(responses[0].headers['retry-after']).toBe('5');
    expect(responses[0].body.error).toEqual({
      name: 'ServiceUnavailableError',
      message: 'Rate limiting is unavailable; try again later',
    });

    const during = logs.lines.slice(before);
    expect(during.filter(line => line.level === 'error')).toEqual([]);
    expect(during.filter(line => line.level === 'warn').map(line => line.message)).toEqual([
      expect.stringContaining('is unreachable'),
    ]);
  });
});
