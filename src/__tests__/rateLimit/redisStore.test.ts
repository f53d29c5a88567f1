import { MemoryStore, type Options, type Store } from 'express-rate-limit';
import request from 'supertest';
import { createRedisRateLimitStore } from '../../rateLimit/createRedisRateLimitStore';
import { REDIS_STORE_ERROR_CODES } from '../../rateLimit/redis/errors';
import { getRateLimitKeyPrefix } from '../../rateLimit/redis/getRateLimitKeyPrefix';
import { closeRedisRateLimitClients } from '../../rateLimit/redis/redisConnectionRegistry';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { CLIENT_HEADER, createLimitedApp, sendRequests } from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

describe('createRedisRateLimitStore', () => {
  let redis: RedisServerHandle;
  let prefixCount = 0;
  /** A prefix no other test uses, so that tests sharing the server do not share counters. */
  const freshPrefix = () => getRateLimitKeyPrefix(`plugin-${++prefixCount}`);

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterEach(async () => {
    await closeRedisRateLimitClients();
  });

  afterAll(async () => {
    await redis.stop();
  });

  describe.each<[string, () => Store]>([
    ['memory', () => new MemoryStore()],
    ['redis', () => createRedisRateLimitStore({ connection: redis.url, prefix: freshPrefix() })],
  ])('with the %s store', (_name, createStore) => {
    it('lets a client through up to the limit, then answers 429 with Retry-After', async () => {
      const app = createLimitedApp({ store: createStore(), limit: 3 });

      expect(await sendRequests(app, 'client-a', 3)).toEqual([200, 200, 200]);
      const limited = await request(app).get('/').set(CLIENT_HEADER, 'client-a');

      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit']).toMatch(/limit=3, remaining=0/);
    });

    it('counts each client on its own', async () => {
      const app = createLimitedApp({ store: createStore(), limit: 1 });

      expect(await sendRequests(app, 'client-a', 2)).toEqual([200, 429]);
      expect(await sendRequests(app, 'client-b', 1)).toEqual([200]);
    });

    it('takes a hit back with decrement and forgets a client with resetKey', async () => {
      const store = createStore();
      const app = createLimitedApp({ store, limit: 2 });

      expect(await sendRequests(app, 'client-a', 2)).toEqual([200, 200]);
      await store.decrement('client-a');
      expect(await sendRequests(app, 'client-a', 2)).toEqual([200, 429]);
      await store.resetKey('client-a');
      expect(await sendRequests(app, 'client-a', 1)).toEqual([200]);
    });
  });

  it('keeps the fallback clean-up timer within range for a window longer than a timer can wait', async () => {
    // Beyond 2^31-1 ms Node replaces the delay by 1 ms: the clean-up would then run a thousand times a second.
    const setIntervalSpy = jest.spyOn(global, 'setInterval');
    try {
      const store = createRedisRateLimitStore({ connection: redis.url, prefix: freshPrefix() });
      store.init?.({ windowMs: 30 * 24 * 3600 * 1000 } as Options);
      const delays = setIntervalSpy.mock.calls.map(([, delay]) => delay);
      expect(delays).toEqual([2 ** 31 - 1]);
      await store.shutdown?.();
    } finally {
      setIntervalSpy.mockRestore();
    }
  });

  it('shares one budget between two apps, as two backend instances would', async () => {
    const prefix = freshPrefix();
    const instanceA = createLimitedApp({
      store: createRedisRateLimitStore({ connection: redis.url, prefix }),
      limit: 4,
    });
    const instanceB = createLimitedApp({
      store: createRedisRateLimitStore({ connection: redis.url, prefix }),
      limit: 4,
    });

    expect(await sendRequests(instanceA, 'client-a', 4)).toEqual([200, 200, 200, 200]);
    expect(await sendRequests(instanceB, 'client-a', 1)).toEqual([429]);
    expect(await sendRequests(instanceB, 'client-b', 1)).toEqual([200]);
  });

  it('keeps counters under the limiter prefix, expiring with the window', async () => {
    const windowMs = 30_000;
    const pluginApp = createLimitedApp({
      store: createRedisRateLimitStore({ connection: redis.url, prefix: 'rl:plugin:catalog:' }),
      limit: 10,
      windowMs,
    });
    const globalApp = createLimitedApp({
      store: createRedisRateLimitStore({
        connection: redis.url,
        prefix: getRateLimitKeyPrefix(),
      }),
      limit: 10,
      windowMs,
    });

    await sendRequests(pluginApp, 'client-k', 2);
    await sendRequests(globalApp, 'client-k', 1);

    expect(await redis.cli('GET', 'rl:plugin:catalog:client-k')).toBe('2');
    expect(await redis.cli('GET', 'rl:global:client-k')).toBe('1');
    const ttl = Number(await redis.cli('PTTL', 'rl:plugin:catalog:client-k'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(windowMs);
  });

  it('opens one connection per Redis for all stores in the process, and closes it', async () => {
    const connectionsNamed = async () =>
      (await redis.cli('CLIENT', 'LIST'))
        .split('\n')
        .filter(line => line.includes('name=backstage-http-router-rate-limit')).length;
    const apps = ['catalog', 'scaffolder', undefined].map(pluginId =>
      createLimitedApp({
        store: createRedisRateLimitStore({
          connection: redis.url,
          prefix: getRateLimitKeyPrefix(pluginId),
        }),
        limit: 10,
      }),
    );
    for (const app of apps) {
      await sendRequests(app, 'client-c', 1);
    }

    expect(await connectionsNamed()).toBe(1);

    await closeRedisRateLimitClients();
    await waitUntil('the server sees no connection', async () => (await connectionsNamed()) === 0);
  });

  it('gives the client back when the last store on it shuts down', async () => {
    const first = createRedisRateLimitStore({ connection: redis.url, prefix: freshPrefix() });
    const second = createRedisRateLimitStore({ connection: redis.url, prefix: freshPrefix() });
    createLimitedApp({ store: first, limit: 1 });
    const app = createLimitedApp({ store: second, limit: 1 });

    await first.shutdown?.();
    expect(await sendRequests(app, 'client-s', 2)).toEqual([200, 429]);
    await second.shutdown?.();
  });

  it.each([
    [{ prefix: '' }, 'prefix'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: Number.NaN }, 'timeoutMs'],
    [{ retryAfterSeconds: 1.5 }, 'retryAfterSeconds'],
  ])('rejects the options %j, naming %s', (override, option) => {
    expect(() =>
      createRedisRateLimitStore({ connection: redis.url, prefix: 'rl:x:', ...override }),
    ).toThrow(expect.objectContaining({ code: REDIS_STORE_ERROR_CODES.option, option }));
  });
});
