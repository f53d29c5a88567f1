import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { createLogCollector } from '../helpers/createLogCollector';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';
import { type SlowProxy, startSlowProxy } from '../helpers/startSlowProxy';

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

describe('a Redis that answers each command within store.timeout', () => {
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
    const rateLimit = slowRedisRateLimit(proxy, { userRequestLimit: 5 });
    const first = await startCountingAuthBackend(rateLimit, logs);
    const second = await startCountingAuthBackend(rateLimit, logs);
    try {
      // Connect and load the scripts of every budget at full speed, as another user.
      expect((await hello(first, BOB)).status).toBe(200);
      expect((await hello(second, BOB)).status).toBe(200);
      proxy.setDelay(REPLY_DELAY_MS);
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await hello(first, ALICE)).status, (await hello(second, ALICE)).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
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
