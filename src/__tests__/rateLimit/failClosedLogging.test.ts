import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { createLogCollector } from '../helpers/createLogCollector';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { redisRateLimit, startRateLimitBackend } from '../helpers/startRateLimitBackend';

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
        store: { type: 'redis', connection: redis.url, timeout: '100ms' },
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
