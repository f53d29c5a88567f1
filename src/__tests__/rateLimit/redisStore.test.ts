import { budgetKey } from '../helpers/startRateLimitBackend';
import type { JsonObject } from '@backstage/types';
import type { IncrementResponse, Options } from 'express-rate-limit';
import { createTestRedisStore } from '../helpers/redisStores';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import {
  createLimitedApp,
  redisStore,
  sendRequest,
  sendRequests,
  shutdownLimitedApps,
} from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store', () => {
  let redis: RedisServerHandle;
  let pluginCount = 0;
  /** A plugin id no other test uses, so that tests sharing the server do not share counters. */
  const freshPluginId = () => `plugin-${++pluginCount}`;
  const connectionsNamed = async () =>
    (await redis.cli('CLIENT', 'LIST'))
      .split('\n')
      .filter(line => line.includes('name=backstage-http-router-rate-limit')).length;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    await shutdownLimitedApps();
  });
  afterAll(async () => {
    await redis.stop();
  });

  describe.each<[string, () => JsonObject]>([
    ['memory', () => ({ type: 'memory' })],
    ['redis', () => redisStore(redis.url)],
  ])('behind the shipped limiter, with the %s store', (_name, store) => {
    it('lets a client through up to the limit, then answers 429 with Retry-After', async () => {
      const pluginId = freshPluginId();
      const app = createLimitedApp({ store: store(), pluginId, limit: 3 });

      expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);
      const limited = await sendRequest(app, CLIENT_A);

      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit-policy']).toMatch(`"plugin-${pluginId}"; q=3; w=60; pk=`);
      expect(limited.headers['ratelimit']).toMatch(
        new RegExp(`^"plugin-${pluginId}"; r=0; t=\\d+$`),
      );
    });

    it('counts each client on its own', async () => {
      const app = createLimitedApp({ store: store(), pluginId: freshPluginId(), limit: 1 });

      expect(await sendRequests(app, CLIENT_A, 2)).toEqual([200, 429]);
      expect(await sendRequests(app, CLIENT_B, 1)).toEqual([200]);
    });
  });

  it('counts, takes a hit back with decrement and forgets a client with resetKey, in Redis', async () => {
    const store = createTestRedisStore({ connection: redis.url, prefix: 'rl:direct:' });
    store.init?.({ windowMs: 60_000 } as Options);
    const increment = async () => ((await store.increment('k')) as IncrementResponse).totalHits;

    expect([await increment(), await increment()]).toEqual([1, 2]);
    await store.decrement('k');
    expect(await redis.cli('GET', 'rl:direct:k')).toBe('1');
    expect(await store.get?.('k')).toMatchObject({ totalHits: 1 });
    await store.resetKey('k');
    expect(await redis.cli('EXISTS', 'rl:direct:k')).toBe('0');
    expect(await increment()).toBe(1);
    await store.shutdown?.();
  });

  it('keeps the fallback clean-up timer within range for a window longer than a timer can wait', async () => {
    // Beyond 2^31-1 ms Node replaces the delay by 1 ms: the clean-up would then run a thousand times a second.
    const setIntervalSpy = jest.spyOn(global, 'setInterval');
    try {
      const store = createTestRedisStore({ connection: redis.url, prefix: 'rl:long:' });
      store.init?.({ windowMs: 30 * 24 * 3600 * 1000 } as Options);
      const delays = setIntervalSpy.mock.calls.map(([, delay]) => delay);
      expect(delays).toEqual([2 ** 31 - 1]);
      await store.shutdown?.();
    } finally {
      setIntervalSpy.mockRestore();
    }
  });

  it('shares one budget between two apps, as two backend instances would', async () => {
    const pluginId = freshPluginId();
    const instanceA = createLimitedApp({ store: redisStore(redis.url), pluginId, limit: 4 });
    const instanceB = createLimitedApp({ store: redisStore(redis.url), pluginId, limit: 4 });

    expect(await sendRequests(instanceA, CLIENT_A, 4)).toEqual([200, 200, 200, 200]);
    expect(await sendRequests(instanceB, CLIENT_A, 1)).toEqual([429]);
    expect(await sendRequests(instanceB, CLIENT_B, 1)).toEqual([200]);
  });

  it('keeps counters under the limiter prefix, expiring with the window', async () => {
    const store = redisStore(redis.url);
    const pluginApp = createLimitedApp({ store, pluginId: 'catalog', limit: 10, window: '30s' });
    const bothApp = createLimitedApp({
      store,
      pluginId: 'search',
      global: true,
      limit: 10,
      window: '30s',
    });

    await sendRequests(pluginApp, CLIENT_A, 2);
    await sendRequests(bothApp, CLIENT_A, 1);

    expect(await redis.cli('GET', budgetKey('rl:plugin:catalog:', CLIENT_A))).toBe('2');
    expect(await redis.cli('GET', budgetKey('rl:plugin:search:', CLIENT_A))).toBe('1');
    expect(await redis.cli('GET', budgetKey('rl:global:', CLIENT_A))).toBe('1');
    const ttl = Number(await redis.cli('PTTL', budgetKey('rl:plugin:catalog:', CLIENT_A)));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('opens one connection per Redis for all limiters of a backend, and closes it with the last one', async () => {
    const apps = [
      createLimitedApp({ store: redisStore(redis.url), pluginId: 'catalog', limit: 10 }),
      createLimitedApp({
        store: redisStore(redis.url),
        pluginId: 'scaffolder',
        global: true,
        limit: 10,
      }),
    ];
    for (const app of apps) {
      await sendRequests(app, CLIENT_A, 1);
    }
    // One for each app, whose all-plugins and plugin limiters share theirs.
    expect(await connectionsNamed()).toBe(2);

    await apps[0].shutdown();
    await waitUntil('the server sees one connection', async () => (await connectionsNamed()) === 1);
    expect(await sendRequests(apps[1], CLIENT_B, 1)).toEqual([200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:scaffolder:', CLIENT_B))).toBe('1');
    await apps[1].shutdown();
    await waitUntil('the server sees no connection', async () => (await connectionsNamed()) === 0);
  });
});
