import { budgetKey } from '../helpers/startRateLimitBackend';
import { mockServices } from '@backstage/backend-test-utils';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import {
  createLimitedApp,
  type LimitedApp,
  redisStore,
  sendRequest,
  sendRequests,
} from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

/** How long Redis must answer before an outage is reported over, shortened for these tests. */
const SETTLE_MS = 200;

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store when Redis fails', () => {
  let redis: RedisServerHandle;
  let logger: ReturnType<typeof mockServices.logger.mock>;

  let apps: LimitedApp[];

  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
  const createApp = (
    pluginId: string,
    limit: number,
    passOnStoreError = true,
    timeout = '100ms',
  ) => {
    const app = createLimitedApp({
      store: redisStore(redis.url, timeout),
      pluginId,
      limit,
      passOnStoreError,
      logger,
      outageSettleMs: SETTLE_MS,
    });
    apps.push(app);
    return app;
  };
  /** Each request's status; a request that hung would fail the test on jest's timeout. */
  const statusOf = (app: LimitedApp, client: string) =>
    sendRequest(app, client).then(response => response.status);

  beforeEach(async () => {
    apps = [];
    logger = mockServices.logger.mock();
    redis = await startRedisServer();
  });
  afterEach(async () => {
    redis.resume();
    await Promise.all(apps.map(app => app.shutdown()));
    await redis.stop();
  });

  it('answers every request when Redis is killed under load, limits in memory, and moves back to Redis after a restart', async () => {
    const app = createApp('load', 1_000);
    const floodable = createApp('flood', 5);
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:load:', CLIENT_A))).toBe('3');

    const during = Array.from({ length: 30 }, () => statusOf(app, CLIENT_A));
    await redis.kill();
    const after = Array.from({ length: 20 }, () => statusOf(app, CLIENT_A));
    expect(await Promise.all([...during, ...after])).toEqual(Array(50).fill(200));
    expect(await sendRequests(floodable, '203.0.113.9', 8)).toEqual([
      200, 200, 200, 200, 200, 429, 429, 429,
    ]);
    // One warning per connection: each app is a backend of its own.
    expect(warnings()).toEqual([
      expect.stringMatching(/ is unreachable \(/),
      expect.stringMatching(/ is unreachable \(/),
    ]);
    expect(logger.error).not.toHaveBeenCalled();

    await redis.restart();
    await waitUntil('the store reports Redis back', () => warnings().length > 2);
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', budgetKey('rl:plugin:load:', CLIENT_B))) === '1';
    });
    expect(warnings()[2]).toMatch(/is reachable again/);
  });

  it('answers every request while Redis hangs, and counts in Redis once it answers again', async () => {
    const app = createApp('hang', 100);
    expect(await sendRequests(app, CLIENT_A, 1)).toEqual([200]);

    redis.pause();
    const results = await Promise.all(Array.from({ length: 10 }, () => statusOf(app, CLIENT_A)));
    expect(results).toEqual(Array(10).fill(200));
    expect(warnings()).toEqual([expect.stringMatching(/did not answer within 100 ms/)]);

    redis.resume();
    await waitUntil('Redis counts again', async () => {
      await sendRequests(app, CLIENT_B, 1);
      return (await redis.cli('EXISTS', budgetKey('rl:plugin:hang:', CLIENT_B))) === '1';
    });
    await waitUntil('the store reports Redis back', () => warnings().length > 1);
    expect(warnings()).toEqual([
      expect.stringMatching(/did not answer within 100 ms/),
      expect.stringMatching(/is reachable again/),
    ]);
  });

  it('keeps each store to its own timeout: a late answer is an outage only for the store it is late for', async () => {
    const short = createApp('short', 100);
    const long = createApp('long', 100, true, '2s');
    expect(await sendRequests(short, CLIENT_A, 1)).toEqual([200]);
    expect(await sendRequests(long, CLIENT_A, 1)).toEqual([200]);

    // Redis answers once the short store has given up: late for it, in time for the long one.
    redis.pause();
    const requests = Promise.all([statusOf(short, CLIENT_B), statusOf(long, CLIENT_B)]);
    await waitUntil('the short store gives up', () => warnings().length === 1);
    redis.resume();
    expect(await requests).toEqual([200, 200]);
    // The long store counted in Redis and saw no outage; only the short one did.
    expect(await redis.cli('GET', budgetKey('rl:plugin:long:', CLIENT_B))).toBe('1');
    expect(warnings()).toEqual([expect.stringMatching(/did not answer within 100 ms/)]);
  });

  it('keeps counting in Redis, with no error reaching a client, after SCRIPT FLUSH and FLUSHALL', async () => {
    const app = createApp('flush', 100);
    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);

    await redis.cli('SCRIPT', 'FLUSH');
    const afterScriptFlush = await Promise.all(
      Array.from({ length: 5 }, () => statusOf(app, CLIENT_A)),
    );
    expect(afterScriptFlush).toEqual([200, 200, 200, 200, 200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:flush:', CLIENT_A))).toBe('8');

    await redis.cli('FLUSHALL');
    expect(await sendRequests(app, CLIENT_A, 2)).toEqual([200, 200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:flush:', CLIENT_A))).toBe('2');
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
    expect(await redis.cli('GET', budgetKey('rl:plugin:closed:', CLIENT_B))).toBe('1');
  });
});
