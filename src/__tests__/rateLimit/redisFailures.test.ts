import { mockServices } from '@backstage/backend-test-utils';
import request from 'supertest';
import { createRedisRateLimitStore } from '../../rateLimit/createRedisRateLimitStore';
import { closeRedisRateLimitClients } from '../../rateLimit/redis/redisConnectionRegistry';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import {
  CLIENT_HEADER,
  createLimitedApp,
  sendRequests,
  timedRequest,
} from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

/** The store's timeout in these tests; a request must answer well within {@link NO_HANG_MS}. */
const TIMEOUT_MS = 100;
/** Generous on purpose: the point is that nothing hangs, not how fast the machine is. */
const NO_HANG_MS = 1_000;
/** An outage is reported over 5 s after Redis answers again (see createRedisOutageTracker); with margin. */
const BACK_REPORTED_MS = 15_000;

describe('the Redis rate-limit store when Redis fails', () => {
  let redis: RedisServerHandle;
  let logger: ReturnType<typeof mockServices.logger.mock>;

  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
  const createStore = (prefix: string, passOnStoreError?: boolean) =>
    createRedisRateLimitStore({
      connection: redis.url,
      prefix,
      timeoutMs: TIMEOUT_MS,
      passOnStoreError,
      logger,
    });
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
    const app = createLimitedApp({ store: createStore('rl:plugin:load:'), limit: 1_000 });
    const floodable = createLimitedApp({ store: createStore('rl:plugin:flood:'), limit: 5 });
    expect(await sendRequests(app, 'client-a', 3)).toEqual([200, 200, 200]);
    expect(await redis.cli('GET', 'rl:plugin:load:client-a')).toBe('3');

    const during = Array.from({ length: 30 }, () => timedRequest(app, 'client-a'));
    await redis.kill();
    const after = Array.from({ length: 20 }, () => timedRequest(app, 'client-a'));
    const results = await Promise.all([...during, ...after]);

    expect(results.map(result => result.status)).toEqual(results.map(() => 200));
    expect(Math.max(...results.map(result => result.ms))).toBeLessThan(NO_HANG_MS);
    expect(await sendRequests(floodable, 'flooder', 8)).toEqual([
      200, 200, 200, 200, 200, 429, 429, 429,
    ]);
    expect(warnings()).toEqual([expect.stringMatching(/ is unreachable \(/)]);

    await redis.restart();
    await waitUntil(
      'the store reports Redis back',
      () => warnings().length === 2,
      BACK_REPORTED_MS,
    );
    expect(await sendRequests(app, 'client-b', 2)).toEqual([200, 200]);
    expect(await redis.cli('GET', 'rl:plugin:load:client-b')).toBe('2');
    expect(warnings()[1]).toMatch(/is reachable again/);
  });

  it('answers within the timeout while Redis hangs, and counts in Redis once it answers again', async () => {
    const app = createLimitedApp({ store: createStore('rl:plugin:hang:'), limit: 100 });
    expect(await sendRequests(app, 'client-a', 1)).toEqual([200]);

    redis.pause();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => timedRequest(app, 'client-a')),
    );

    expect(results.map(result => result.status)).toEqual(results.map(() => 200));
    expect(Math.max(...results.map(result => result.ms))).toBeLessThan(NO_HANG_MS);
    expect(warnings()).toEqual([expect.stringMatching(/did not answer within 100 ms/)]);

    redis.resume();
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, 'client-b', 1);
      return (await redis.cli('EXISTS', 'rl:plugin:hang:client-b')) === '1';
    });
    await waitUntil('the store reports Redis back', () => warnings().length > 1, BACK_REPORTED_MS);
    expect(warnings()).toEqual([
      expect.stringMatching(/did not answer within 100 ms/),
      expect.stringMatching(/is reachable again/),
    ]);
  });

  it('keeps each store to its own timeout: a late answer is an outage only for the store it is late for', async () => {
    const longTimeoutMs = 600;
    const short = createLimitedApp({ store: createStore('rl:plugin:short:'), limit: 100 });
    const long = createLimitedApp({
      store: createRedisRateLimitStore({
        connection: redis.url,
        prefix: 'rl:plugin:long:',
        timeoutMs: longTimeoutMs,
        logger,
      }),
      limit: 100,
    });
    expect(await sendRequests(short, 'client-a', 1)).toEqual([200]);
    expect(await sendRequests(long, 'client-a', 1)).toEqual([200]);

    // Redis answers after about 250 ms: late for the 100 ms store, in time for the 600 ms one.
    redis.pause();
    const requests = Promise.all([timedRequest(short, 'client-b'), timedRequest(long, 'client-b')]);
    await new Promise(resolve => setTimeout(resolve, 250));
    redis.resume();
    const [fast, slow] = await requests;

    expect([fast.status, slow.status]).toEqual([200, 200]);
    expect(fast.ms).toBeLessThan(250);
    expect(slow.ms).toBeGreaterThanOrEqual(200);
    expect(slow.ms).toBeLessThan(longTimeoutMs + NO_HANG_MS);
    // The long store counted in Redis and saw no outage; only the short one did.
    expect(await redis.cli('GET', 'rl:plugin:long:client-b')).toBe('1');
    expect(warnings()).toEqual([expect.stringMatching(/did not answer within 100 ms/)]);
  });

  it('keeps counting in Redis, with no error reaching a client, after SCRIPT FLUSH and FLUSHALL', async () => {
    const app = createLimitedApp({ store: createStore('rl:plugin:flush:'), limit: 100 });
    expect(await sendRequests(app, 'client-a', 3)).toEqual([200, 200, 200]);

    await redis.cli('SCRIPT', 'FLUSH');
    const afterScriptFlush = await Promise.all(
      Array.from({ length: 5 }, () => timedRequest(app, 'client-a')),
    );
    expect(afterScriptFlush.map(result => result.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await redis.cli('GET', 'rl:plugin:flush:client-a')).toBe('8');

    await redis.cli('FLUSHALL');
    expect(await sendRequests(app, 'client-a', 2)).toEqual([200, 200]);
    expect(await redis.cli('GET', 'rl:plugin:flush:client-a')).toBe('2');
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('answers 503 with Retry-After while Redis is down when it fails closed, and recovers', async () => {
    const app = createLimitedApp({ store: createStore('rl:plugin:closed:', false), limit: 100 });
    expect(await sendRequests(app, 'client-a', 1)).toEqual([200]);

    await redis.kill();
    const refused = await request(app).get('/').set(CLIENT_HEADER, 'client-a');

    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body.error).toMatchObject({
      name: 'ServiceUnavailableError',
      code: 'ERR_HTTP_ROUTER_RATE_LIMIT_STORE_UNAVAILABLE',
    });

    await redis.restart();
    await waitUntil('requests go through again', async () => {
      const response = await request(app).get('/').set(CLIENT_HEADER, 'client-b');
      return response.status === 200;
    });
    expect(await redis.cli('GET', 'rl:plugin:closed:client-b')).toBe('1');
  });
});
