import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { startMetricsSdk } from '../helpers/metricsSdk';
import {
  HEALTHY_REDIS_TIMEOUT,
  type RedisServerHandle,
  startRedisServer,
} from '../helpers/redisServer';
import {
  budgetKey,
  startRateLimitBackend,
  TEST_KEY_SECRET,
  type TestBackend,
} from '../helpers/startRateLimitBackend';

const ALICE = mockCredentials.user.header('user:default/alice');
const BOB = mockCredentials.user.header('user:default/bob');

/** The example plugin alone, counted per address from 127.0.0.1, with `block` as its rate-limit block. */
const pluginBlock = (block: JsonObject): JsonObject => ({
  global: false,
  ipAllowList: [],
  plugin: { example: block },
});

async function send(
  backend: TestBackend,
  method: 'get' | 'post' | 'put' | 'head',
  path: string,
  authorization?: string,
) {
  const req = request(backend.server)[method](`/api/example${path}`);
  return authorization === undefined ? req : req.set('Authorization', authorization);
}

async function statuses(
  backend: TestBackend,
  method: 'get' | 'post' | 'put' | 'head',
  path: string,
  authorization: string | undefined,
  n: number,
) {
  const result: number[] = [];
  for (let i = 0; i < n; i++)
    result.push((await send(backend, method, path, authorization)).status);
  return result;
}

describe('budgets per route, in a real backend', () => {
  const backends: TestBackend[] = [];
  const start = async (rateLimit: JsonObject) => {
    const backend = await startRateLimitBackend(rateLimit);
    backends.push(backend);
    return backend;
  };

  afterEach(async () => {
    await Promise.all(backends.splice(0).map(backend => backend.stop()));
  });

  it("refuses a user's third POST to a route with a budget of 2, while their GETs and another user go on", async () => {
    const backend = await start(
      pluginBlock({
        routes: [{ name: 'echo', path: '/echo', method: 'post', userRequestLimit: 2 }],
      }),
    );
    expect(await statuses(backend, 'post', '/echo', ALICE, 2)).toEqual([200, 200]);
    const refused = await send(backend, 'post', '/echo', ALICE);
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-echo-user"; q=2; w=60');
    expect(refused.body.error.message).toMatch(
      /the user limit of route 'echo' is 2 per 60 seconds/,
    );
    expect(await statuses(backend, 'get', '/hello', ALICE, 3)).toEqual([200, 200, 200]);
    expect(await statuses(backend, 'post', '/echo', BOB, 3)).toEqual([200, 200, 429]);
  });

  it('counts a path in another case in the rule too, as the router routes it there', async () => {
    const backend = await start(
      pluginBlock({
        routes: [{ name: 'echo', path: '/echo', method: 'post', userRequestLimit: 2 }],
      }),
    );
    expect((await send(backend, 'post', '/echo', ALICE)).status).toBe(200);
    expect((await send(backend, 'post', '/ECHO', ALICE)).status).toBe(200);
    const refused = await send(backend, 'post', '/Echo', ALICE);
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-echo-user"; q=2; w=60');
  });

  it('counts a request in its plugin budget too, and the first budget spent answers', async () => {
    const backend = await start(
      pluginBlock({
        incomingRequestLimit: 3,
        routes: [{ name: 'echo', path: '/echo', incomingRequestLimit: 10 }],
      }),
    );
    expect(await statuses(backend, 'post', '/echo', undefined, 2)).toEqual([401, 401]);
    const other = await send(backend, 'get', '/public/1');
    expect(other.headers['ratelimit-policy']).not.toContain('plugin-example-echo');
    const refused = await send(backend, 'post', '/echo');
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toMatch(/^"plugin-example"; q=3;/);
  });

  it('matches a placeholder path per address, for every value of the placeholder and no other path', async () => {
    const backend = await start(
      pluginBlock({ routes: [{ path: '/public/:id', incomingRequestLimit: 2 }] }),
    );
    expect((await send(backend, 'get', '/public/1')).status).toBe(401);
    expect((await send(backend, 'get', '/public/2')).status).toBe(401);
    const refused = await send(backend, 'get', '/public/3');
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-route-0"; q=2;');
    expect((await send(backend, 'get', '/public')).status).toBe(401);
    expect((await send(backend, 'get', '/public-other/1')).status).toBe(401);
  });

  it('counts only the methods a rule lists, in any case, and HEAD with GET', async () => {
    const backend = await start(
      pluginBlock({
        routes: [{ path: '/hello', method: ['get', 'Post'], incomingRequestLimit: 3 }],
      }),
    );
    expect(await statuses(backend, 'put', '/hello', undefined, 4)).toEqual([401, 401, 401, 401]);
    expect((await send(backend, 'post', '/hello')).status).toBe(401);
    expect((await send(backend, 'head', '/hello')).status).toBe(401);
    expect(await statuses(backend, 'get', '/hello', undefined, 2)).toEqual([401, 429]);
  });

  it('counts a request in every rule it matches', async () => {
    const backend = await start(
      pluginBlock({
        routes: [
          { name: 'writes', path: '/', method: 'POST', incomingRequestLimit: 3 },
          { name: 'echo', path: '/echo', incomingRequestLimit: 5 },
        ],
      }),
    );
    expect(await statuses(backend, 'post', '/echo', undefined, 3)).toEqual([401, 401, 401]);
    const refused = await send(backend, 'post', '/echo');
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-writes"; q=3;');
    expect(await statuses(backend, 'get', '/echo', undefined, 3)).toEqual([401, 401, 429]);
  });

  it('takes what a rule leaves out from its plugin block', async () => {
    const backend = await start(
      pluginBlock({
        window: '2m',
        incomingRequestLimit: 5,
        routes: [{ path: '/echo', userRequestLimit: 1 }],
      }),
    );
    const anonymous = await send(backend, 'post', '/echo');
    expect(anonymous.headers['ratelimit-policy']).toContain(
      '"plugin-example-route-0-address"; q=5; w=120',
    );
    expect((await send(backend, 'post', '/echo', ALICE)).status).toBe(200);
    const refused = await send(backend, 'post', '/echo', ALICE);
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain(
      '"plugin-example-route-0-user"; q=1; w=120',
    );
  });

  it("records a rule's decisions under its own limiter name", async () => {
    const sdk = startMetricsSdk();
    try {
      const backend = await start(
        pluginBlock({ routes: [{ name: 'echo', path: '/echo', incomingRequestLimit: 1 }] }),
      );
      await statuses(backend, 'post', '/echo', undefined, 2);
      const decisions = (await sdk.collect())
        .filter(point => point.attributes.limiter === 'plugin-example-echo')
        .map(point => `${point.attributes.outcome} ${point.value}`);
      expect(decisions.sort()).toEqual(['allowed 1', 'limited 1']);
    } finally {
      await sdk.stop();
    }
  });
});

describe('budgets per route in Redis, shared between backend instances', () => {
  let redis: RedisServerHandle;
  const backends: TestBackend[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await Promise.all(backends.map(backend => backend.stop()));
    await redis.stop();
  });

  it("gives a user one route budget across two instances, under the rule's own keys", async () => {
    const rateLimit = {
      ...pluginBlock({
        store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
        routes: [{ name: 'echo', path: '/echo', method: 'POST', userRequestLimit: 2 }],
      }),
      keySecret: TEST_KEY_SECRET,
    };
    const [first, second] = [
      await startRateLimitBackend(rateLimit),
      await startRateLimitBackend(rateLimit),
    ];
    backends.push(first, second);
    expect((await send(first, 'post', '/echo', ALICE)).status).toBe(200);
    expect((await send(second, 'post', '/echo', ALICE)).status).toBe(200);
    expect((await send(first, 'post', '/echo', ALICE)).status).toBe(429);
    expect((await send(second, 'post', '/echo', BOB)).status).toBe(200);
    const keys = (await redis.cli('KEYS', 'rl:plugin:example:route:echo:*')).split('\n').sort();
    expect(keys).toEqual(
      [
        budgetKey('rl:plugin:example:route:echo:user:', 'user:default/alice'),
        budgetKey('rl:plugin:example:route:echo:user:', 'user:default/bob'),
      ].sort(),
    );
  });
});
