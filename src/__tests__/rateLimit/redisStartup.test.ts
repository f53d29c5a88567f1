import { mockServices } from '@backstage/backend-test-utils';
import { createRedisRateLimitStore } from '../../rateLimit/createRedisRateLimitStore';
import { closeRedisRateLimitClients } from '../../rateLimit/redis/redisConnectionRegistry';
import { freePort } from '../helpers/freePort';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { createLimitedApp, sendRequests } from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

describe('the Redis rate-limit store at start-up', () => {
  let logger: ReturnType<typeof mockServices.logger.mock>;
  const servers: RedisServerHandle[] = [];
  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));

  beforeEach(() => {
    logger = mockServices.logger.mock();
  });

  afterEach(async () => {
    await closeRedisRateLimitClients();
    await Promise.all(servers.splice(0).map(server => server.stop()));
  });

  it('serves while Redis is down at boot, limiting in memory, and counts in Redis once it comes up', async () => {
    const port = await freePort();
    const app = createLimitedApp({
      store: createRedisRateLimitStore({
        connection: `redis://127.0.0.1:${port}`,
        prefix: 'rl:plugin:boot:',
        logger,
      }),
      limit: 2,
    });

    expect(await sendRequests(app, 'client-a', 3)).toEqual([200, 200, 429]);
    expect(warnings()).toEqual([
      expect.stringMatching(/redis:\/\/127\.0\.0\.1:\d+ is unreachable at start-up/),
    ]);

    const redis = await startRedisServer({ port });
    servers.push(redis);
    // Reported 5 s after Redis first answers (see createRedisOutageTracker), so wait longer than usual.
    await waitUntil('the store reports Redis reachable', () => warnings().length === 2, 15_000);
    expect(await sendRequests(app, 'client-b', 3)).toEqual([200, 200, 429]);
    expect(await redis.cli('GET', 'rl:plugin:boot:client-b')).toBe('3');
  });

  it.each([
    ['not a URL', 'not a url'],
    ['another scheme', 'http://127.0.0.1:6379'],
    ['an empty cluster', []],
  ])(
    'serves with a warning naming the option when the connection is %s',
    async (_case, connection) => {
      const app = createLimitedApp({
        store: createRedisRateLimitStore({
          connection: connection as string | string[],
          prefix: 'rl:plugin:bad-url:',
          logger,
        }),
        limit: 1,
      });

      expect(await sendRequests(app, 'client-a', 2)).toEqual([200, 429]);
      expect(warnings()).toEqual([
        expect.stringMatching(
          /unreachable at start-up \(Invalid Redis rate-limit store option 'connection'/,
        ),
      ]);
    },
  );

  it('serves with a warning when the password is wrong', async () => {
    const redis = await startRedisServer({ password: 'right-password' });
    servers.push(redis);
    const app = createLimitedApp({
      store: createRedisRateLimitStore({
        connection: `redis://:wrong-password@127.0.0.1:${redis.port}`,
        prefix: 'rl:plugin:auth:',
        logger,
      }),
      limit: 1,
    });

    expect(await sendRequests(app, 'client-a', 2)).toEqual([200, 429]);
    await waitUntil('the store warns', () => warnings().length > 0);
    expect(warnings()).toEqual([
      expect.stringMatching(
        /redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ is unreachable at start-up \(WRONGPASS/,
      ),
    ]);
    expect(warnings()[0]).not.toContain('wrong-password');
    expect(await redis.cli('DBSIZE')).toBe('0');
  });

  it('uses the password from the URL', async () => {
    const redis = await startRedisServer({ password: 'p@ss word' });
    servers.push(redis);
    const app = createLimitedApp({
      store: createRedisRateLimitStore({
        connection: redis.url,
        prefix: 'rl:plugin:auth:',
        logger,
      }),
      limit: 5,
    });

    expect(await sendRequests(app, 'client-a', 2)).toEqual([200, 200]);
    expect(await redis.cli('GET', 'rl:plugin:auth:client-a')).toBe('2');
    expect(logger.warn).not.toHaveBeenCalled();
  });
});
