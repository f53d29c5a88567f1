import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { createTestRedisStore } from '../helpers/redisStores';
import { createLogCollector } from '../helpers/createLogCollector';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';
import {
  type RedisServerHandle,
  startRedisServer,
  HEALTHY_REDIS_TIMEOUT,
} from '../helpers/redisServer';

const ALICE = mockCredentials.user.header('user:default/alice');

const startBackend = (rateLimit: JsonObject, logs = createLogCollector()) =>
  startCountingAuthBackend(rateLimit, logs);

describe('per-principal budgets on a real Redis', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis.stop();
  });

  it('a Redis that cannot read the failed-authentication count gives a plain 503', async () => {
    const logs = createLogCollector();
    const backend = await startBackend(
      {
        global: false,
        ipAllowList: [],
        passOnStoreError: false,
        failedAuthenticationLimit: 5,
        store: {
          type: 'redis',
          connection: redis.url,
          timeout: { milliseconds: 100 },
          retryAfter: { seconds: 7 },
        },
        plugin: { example: {} },
      },
      logs,
    );
    try {
      expect(
        (await request(backend.server).get('/api/example/hello').set('Authorization', ALICE))
          .status,
      ).toBe(200);
      redis.pause();
      const answers = [];
      for (let i = 0; i < 3; i++) {
        answers.push(
          await request(backend.server).get('/api/example/hello').set('Authorization', ALICE),
        );
      }
      for (const res of answers) {
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('7');
        expect(res.body.error).toEqual({
          name: 'ServiceUnavailableError',
          message: 'Rate limiting is unavailable; try again later',
        });
        expect(JSON.stringify(res.body)).not.toMatch(/Redis|retryAfter|cause/);
      }
      // The outage is logged when it starts, not once per refused request.
      const perRequest = logs.lines.filter(
        line => line.level === 'error' && /Request failed|ServiceUnavailable/.test(line.message),
      );
      expect(perRequest).toEqual([]);
    } finally {
      redis.resume();
      await backend.stop();
    }
  });

  it("another backend's refused database does not stop this backend's start-up", async () => {
    // Another backend of the process names a database this server does not have.
    const other = createTestRedisStore({ connection: `${redis.url}/99`, prefix: 'rl:other:' });
    other.init?.({ windowMs: 60_000 } as never);
    await other.get?.('warm-up');
    const backend = await startBackend({
      global: false,
      ipAllowList: [],
      store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
      plugin: { example: {} },
    });
    try {
      expect(
        (await request(backend.server).get('/api/example/hello').set('Authorization', ALICE))
          .status,
      ).toBe(200);
    } finally {
      await backend.stop();
      await other.shutdown?.();
    }
  });
});
