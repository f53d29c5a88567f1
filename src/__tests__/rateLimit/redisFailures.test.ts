import { mockServices } from '@backstage/backend-test-utils';
import { closeRedisRateLimitClients } from '../../rateLimit/redis/redisConnectionRegistry';
import { setRedisOutageSettleMs } from '../../rateLimit/redis/openRedisConnectionEntry';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import {
  createLimitedApp,
  redisStore,
  sendRequest,
  sendRequests,
  timedRequest,
} from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

/** Generous on purpose: the point is that nothing hangs, not how fast the machine is. */
const NO_HANG_MS = 1_000;
/** How long Redis must answer before an outage is reported over, shortened for these tests. */
const SETTLE_MS = 200;

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store when Redis fails', () => {
  let redis: RedisServerHandle;
  let logger: ReturnType<typeof mockServices.logger.mock>;

  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
  const createApp = (pluginId: string, limit: number, passOnStoreError = true) =>
    createLimitedApp({ store: redisStore(redis.url), pluginId, limit, passOnStoreError, logger });

  beforeAll(() => setRedisOutageSettleMs(SETTLE_MS));
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

  it('answers every request in bounded time when Redis is killed under load, limits in memory, and moves back to Redis after a restart', async () => {
    const app = createApp('load', 1_000);
    const floodable = createApp('flood', 5);
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);
    expect(await redis.cli('GET', `rl:plugin:load:${CLIENT_A}`)).toBe('3');

    const during = Array.from({ length: 30 }, () => timedRequest(app, CLIENT_A));
    await redis.kill();
    const after = Array.from({ length: 20 }, () => timedRequest(app, CLIENT_A));
    const results = await Promise.all([...during, ...after]);

    expect(results.map(result => result.status)).toEqual(results.map(() => 200));
    expect(Math.max(...results.map(result => result.ms))).toBeLessThan(NO_HANG_MS);
    expect(await sendRequests(floodable, '203.0.113.9', 8)).toEqual([
      200, 200, 200, 200, 200, 429, 429, 429,
    ]);
    expect(warnings()).toEqual([expect.stringMatching(/ is unreachable \(/)]);
    expect(logger.error).not.toHaveBeenCalled();

    await redis.restart();
    await waitUntil('the store reports Redis back', () => warnings().length === 2);
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', `rl:plugin:load:${CLIENT_B}`)) === '1';
    });
    expect(warnings()[1]).toMatch(/is reachable again/);
  });

  it('answers within the timeout while Redis hangs, and counts in Redis once it answers again', async () => {
    const app = createApp('hang', 100);
    expect(await sendRequests(app, CLIENT_A, 1)).toEqual([200]);

    redis.pause();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => timedRequest(app, CLIENT_A)),
    );

    expect(results.map(result => result.status)).toEqual(results.map(() => 200));
    expect(Math.max(...results.map(result => result.ms))).toBeLessThan(NO_HANG_MS);
    expect(warnings()).toEqual([expect.stringMatching(/did not answer within 100 ms/)]);

    redis.resume();
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', `rl:plugin:hang:${CLIENT_B}`)) === '1';
    });
    await waitUntil('the store reports Redis back', () => warnings().length > 1);
    expect(warnings()).toEqual([
      expect.stringMatching(/did not answer within 100 ms/),
      expect.stringMatching(/is reachable again/),
    ]);
  });

  it('keeps each store to its own timeout: a late answer is an outage only for the store it is late for', async () => {
    const longTimeoutMs = 600;
    const short = createApp('short', 100);
    const long = createLimitedApp({
      store: redisStore(redis.url, `${longTimeoutMs}ms`),
      pluginId: 'long',
      limit: 100,
      logger,
    });
    expect(await sendRequests(short, CLIENT_A, 1)).toEqual([200]);
    expect(await sendRequests(long, CLIENT_A, 1)).toEqual([200]);

    // Redis answers after about 250 ms: late for the 100 ms store, in time for the 600 ms one.
    redis.pause();
    const requests = Promise.all([timedRequest(short, CLIENT_B), timedRequest(long, CLIENT_B)]);
    await new Promise(resolve => setTimeout(resolve, 250));
    redis.resume();
    const [fast, slow] = await requests;

    expect([fast.status, slow.status]).toEqual([200, 200]);
    expect(fast.ms).toBeLessThan(250);
    expect(slow.ms).toBeGreaterThanOrEqual(200);
    expect(slow.ms).toBeLessThan(longTimeoutMs + NO_HANG_MS);
    // The long store counted in Redis and saw no outage; only the short one did.
    expect(await redis.cli('GET', `rl:plugin:long:${CLIENT_B}`)).toBe('1');
    expect(warnings()).toEqual([expect.stringMatching(/did not answer within 100 ms/)]);
  });

  it('keeps counting in Redis, with no error reaching a client, after SCRIPT FLUSH and FLUSHALL', async () => {
    const app = createApp('flush', 100);
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);

    await redis.cli('SCRIPT', 'FLUSH');
    const afterScriptFlush = await Promise.all(
      Array.from({ length: 5 }, () => timedRequest(app, CLIENT_A)),
    );
    expect(afterScriptFlush.map(result => result.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await redis.cli('GET', `rl:plugin:flush:${CLIENT_A}`)).toBe('8');

    await redis.cli('FLUSHALL');
    expect(await sendRequests(app, CLIENT_A, 2)).toEqual([200, 200]);
    expect(await redis.cli('GET', `rl:plugin:flush:${CLIENT_A}`)).toBe('2');
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
    expect(await redis.cli('GET', `rl:plugin:closed:${CLIENT_B}`)).toBe('1');
  });
});
