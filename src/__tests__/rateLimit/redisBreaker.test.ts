import { mockServices } from '@backstage/backend-test-utils';
import { closeRedisRateLimitClients } from '../../rateLimit/redis/redisConnectionRegistry';
import { setRedisOutageSettleMs } from '../../rateLimit/redis/openRedisConnectionEntry';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { createLimitedApp, redisStore, sendRequests, timedRequest } from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

/** The store's timeout here: long enough that one wait and two are easy to tell apart on a busy machine. */
const TIMEOUT_MS = 200;

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store while Redis hangs (SIGSTOP)', () => {
  let redis: RedisServerHandle;
  let logger: ReturnType<typeof mockServices.logger.mock>;

  const createApp = (pluginId: string, passOnStoreError = true) =>
    createLimitedApp({
      store: redisStore(redis.url, `${TIMEOUT_MS}ms`),
      pluginId,
      global: true,
      limit: 1_000,
      passOnStoreError,
      logger,
    });
  const resumesCounting = async (app: ReturnType<typeof createApp>, pluginId: string) => {
    redis.resume();
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', `rl:plugin:${pluginId}:${CLIENT_B}`)) === '1';
    });
  };

  beforeAll(() => setRedisOutageSettleMs(200));
  afterAll(() => setRedisOutageSettleMs(undefined));
  beforeEach(async () => {
    logger = mockServices.logger.mock();
    redis = await startRedisServer();
  });
  afterEach(async () => {
    redis.resume();
    await closeRedisRateLimitClients();
    await redis.stop();
  });

  it.each([
    ['fails open', true, 200],
    ['fails closed', false, 503],
  ])(
    'when it %s, waits one store.timeout at most across both limiters, then answers without waiting until Redis is back (issue 12, item 8)',
    async (_case, passOnStoreError, status) => {
      const app = createApp('breaker', passOnStoreError);
      expect(await sendRequests(app, CLIENT_A, 1)).toEqual([200]);

      redis.pause();
      const first = await timedRequest(app, CLIENT_A);
      const later = [];
      for (let i = 0; i < 10; i++) {
        later.push(await timedRequest(app, CLIENT_A));
      }

      expect([first, ...later].map(result => result.status)).toEqual(
        [first, ...later].map(() => status),
      );
      // The all-plugins limiter waited out the timeout; the plugin's limiter, on the same Redis, did not wait again.
      expect(first.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(first.ms).toBeLessThan(TIMEOUT_MS * 1.75);
      expect(Math.max(...later.map(result => result.ms))).toBeLessThan(TIMEOUT_MS / 2);

      await resumesCounting(app, 'breaker');
      expect(await redis.cli('EXISTS', `rl:global:${CLIENT_B}`)).toBe('1');
    },
  );

  it('stops a wait in progress as soon as another one has timed out', async () => {
    const app = createApp('in-flight');
    expect(await sendRequests(app, CLIENT_A, 1)).toEqual([200]);

    redis.pause();
    const first = timedRequest(app, CLIENT_A);
    await new Promise(resolve => setTimeout(resolve, TIMEOUT_MS / 2));
    const second = await timedRequest(app, CLIENT_A);

    expect((await first).ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(second.status).toBe(200);
    // Its own timeout would have ended it after TIMEOUT_MS; the first one's ended it about halfway.
    expect(second.ms).toBeLessThan(TIMEOUT_MS * 0.9);
  });

  it('does not count in Redis the hits it answered without Redis once Redis works through its queue (issue 12, item 9)', async () => {
    const app = createApp('replay');
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);

    redis.pause();
    const during = await Promise.all(Array.from({ length: 20 }, () => timedRequest(app, CLIENT_A)));
    for (let i = 0; i < 5; i++) {
      during.push(await timedRequest(app, CLIENT_A));
    }
    expect(during.map(result => result.status)).toEqual(during.map(() => 200));
    await resumesCounting(app, 'replay');

    // Only the three hits counted before Redis hung; none of those answered from memory meanwhile.
    expect(await redis.cli('GET', `rl:plugin:replay:${CLIENT_A}`)).toBe('3');
    expect(await redis.cli('GET', `rl:global:${CLIENT_A}`)).toBe('3');
  });
});
