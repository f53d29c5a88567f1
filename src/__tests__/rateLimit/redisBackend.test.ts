import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { redisRateLimit, startRateLimitBackend, budgetKey } from '../helpers/startRateLimitBackend';

describe('two backends sharing one Redis rate-limit store', () => {
  let redis: RedisServerHandle;
  const backends: Array<Awaited<ReturnType<typeof startTestBackend>>> = [];

  const startBackend = () =>
    startRateLimitBackend(
      redisRateLimit(redis, { incomingRequestLimit: 3, window: '1m', passOnStoreError: true }),
    );

  beforeAll(async () => {
    redis = await startRedisServer();
    backends.push(await startBackend(), await startBackend());
  });

  afterAll(async () => {
    await Promise.all(backends.map(backend => backend.stop()));
    await redis.stop();
  });

  it('gives a client one budget across both instances', async () => {
    const [first, second] = backends;
    const hello = (backend: (typeof backends)[number]) =>
      request(backend.server)
        .get('/api/example/hello')
        .set('Authorization', mockCredentials.user.header());

    expect((await hello(first)).status).toBe(200);
    expect((await hello(first)).status).toBe(200);
    expect((await hello(second)).status).toBe(200);
    const limited = await hello(second);

    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(Number(await redis.cli('GET', budgetKey('rl:plugin:example:', '127.0.0.1')))).toBe(4);
  });
});
