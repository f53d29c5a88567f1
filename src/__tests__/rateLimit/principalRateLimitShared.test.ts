import { mockCredentials, type startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { createLogCollector } from '../helpers/createLogCollector';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';
import {
  type RedisServerHandle,
  startRedisServer,
  HEALTHY_REDIS_TIMEOUT,
} from '../helpers/redisServer';

type Backend = Awaited<ReturnType<typeof startTestBackend>>;

const ALICE = mockCredentials.user.header('user:default/alice');

const startBackend = (rateLimit: JsonObject, logs = createLogCollector()) =>
  startCountingAuthBackend(rateLimit, logs, ['example', 'other']);

const hello = (backend: Backend, pluginId: string, authorization = ALICE) =>
  request(backend.server).get(`/api/${pluginId}/hello`).set('Authorization', authorization);

describe('per-principal budgets shared between plugins and backend instances', () => {
  let redis: RedisServerHandle;
  const backends: Backend[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await Promise.all(backends.map(backend => backend.stop()));
    await redis.stop();
  });

  it('gives a user one budget across two backend instances on one Redis', async () => {
    const rateLimit = {
      global: false,
      ipAllowList: [],
      userRequestLimit: 3,
      store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
      plugin: { example: {} },
    };
    const [first, second] = [await startBackend(rateLimit), await startBackend(rateLimit)];
    backends.push(first, second);

    expect((await hello(first, 'example')).status).toBe(200);
    expect((await hello(second, 'example')).status).toBe(200);
    expect((await hello(first, 'example')).status).toBe(200);
    expect((await hello(second, 'example')).status).toBe(429);
    const keys = (await redis.cli('KEYS', 'rl:plugin:example:user:*')).split('\n');
    expect(keys).toHaveLength(1);
    expect(Number(await redis.cli('GET', keys[0]))).toBe(4);
    // Another user of the same address is untouched.
    const bob = mockCredentials.user.header('user:default/bob');
    expect((await hello(second, 'example', bob)).status).toBe(200);
  });

  it('counts a user across all plugins with top-level budgets, once per backend, warning once', async () => {
    const logs = createLogCollector();
    const backend = await startBackend(
      {
        ipAllowList: [],
        userRequestLimit: 3,
        incomingRequestLimt: 1,
        store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
      },
      logs,
    );
    backends.push(backend);

    const carol = mockCredentials.user.header('user:default/carol');
    expect((await hello(backend, 'example', carol)).status).toBe(200);
    expect((await hello(backend, 'other', carol)).status).toBe(200);
    const third = await hello(backend, 'example', carol);
    expect(third.headers['ratelimit-policy']).toMatch(/^"global-user"; q=3;/);
    expect((await hello(backend, 'other', carol)).status).toBe(429);
    const keys = (await redis.cli('KEYS', 'rl:global:user:*')).split('\n');
    expect(await Promise.all(keys.map(key => redis.cli('GET', key)))).toEqual(['4']);
    const warnings = logs
      .messages('warn')
      .filter(message => message.includes('incomingRequestLimt'));
    expect(warnings).toHaveLength(1);
  });
});
