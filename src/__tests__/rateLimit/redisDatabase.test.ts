import { mockServices } from '@backstage/backend-test-utils';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { startRateLimitBackend, budgetKey } from '../helpers/startRateLimitBackend';
import {
  createLimitedApp,
  redisStore,
  sendRequests,
  shutdownLimitedApps,
} from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('a Redis database that the server does not have', () => {
  let redis: RedisServerHandle;

  beforeEach(async () => {
    redis = await startRedisServer({ args: ['--databases', '16'] });
  });
  afterEach(async () => {
    await shutdownLimitedApps();
    await redis.stop();
  });

  it('stops the start-up of a backend, naming the key and the database, and counts nothing', async () => {
    const started = startRateLimitBackend({
      ipAllowList: [],
      store: { type: 'redis', connection: `${redis.url}/99` },
      plugin: { example: {} },
    });

    await expect(started).rejects.toThrow(
      /Invalid config at 'backend\.rateLimit\.store\.connection': Redis at redis:\/\/127\.0\.0\.1:\d+\/99 refused database 99 \(ERR DB index is out of range\)/,
    );
    expect(await redis.cli('DBSIZE')).toBe('0');
  });

  it('stops the start-up when only the all-plugins limiter names the database', async () => {
    const started = startRateLimitBackend({
      ipAllowList: [],
      store: { type: 'redis', connection: `${redis.url}/99` },
    });

    await expect(started).rejects.toThrow(
      /Invalid config at 'backend\.rateLimit\.store\.connection': Redis at redis:\/\/127\.0\.0\.1:\d+\/99 refused database 99/,
    );
  });

  it('never counts in another database when Redis refuses the database later, and says why', async () => {
    const logger = mockServices.logger.mock();
    const errors = () =>
      logger.error.mock.calls
        .map(([message]) => String(message))
        .filter(message => message.includes('refused database'));
    const store = redisStore(`${redis.url}/10`);
    const open = createLimitedApp({ store, pluginId: 'open', limit: 100, logger });
    const closed = createLimitedApp({
      store,
      pluginId: 'closed',
      limit: 100,
      passOnStoreError: false,
      logger,
    });
    expect(await sendRequests(open, CLIENT_A, 2)).toEqual([200, 200]);
    expect(await redis.cli('-n', '10', 'GET', budgetKey('rl:plugin:open:', CLIENT_A))).toBe('2');

    // Restarted with fewer databases, as an operator might by mistake.
    await redis.restart(['--databases', '4']);
    await waitUntil('the store reports the refusal', () => errors().length > 0);
    const whileRefused = [
      ...(await sendRequests(open, CLIENT_A, 3)),
      ...(await sendRequests(closed, CLIENT_A, 2)),
    ];

    expect(whileRefused).toEqual([200, 200, 200, 503, 503]);
    expect(await redis.cli('DBSIZE')).toBe('0');
    // One line per connection: each app is a backend of its own.
    const refusal = expect.stringMatching(
      /backend\.rateLimit\.store\.connection.*refused database 10 \(ERR DB index is out of range\).*never counted in another database/,
    );
    expect(errors()).toEqual([refusal, refusal]);

    await redis.restart(['--databases', '16']);
    await waitUntil('Redis counts again in database 10', async () => {
      await sendRequests(closed, CLIENT_B, 1);
      return (
        (await redis.cli('-n', '10', 'EXISTS', budgetKey('rl:plugin:closed:', CLIENT_B))) === '1'
      );
    });
    expect(await redis.cli('DBSIZE')).toBe('0');
    expect(logger.warn.mock.calls.map(([message]) => String(message))).toContainEqual(
      expect.stringMatching(/accepts its database now/),
    );
  });
});
