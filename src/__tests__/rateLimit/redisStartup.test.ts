import { budgetKey } from '../helpers/startRateLimitBackend';
import { mockServices } from '@backstage/backend-test-utils';
import { ERROR_CODES } from '../../errors';
import { freePort } from '../helpers/freePort';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import {
  createLimitedApp,
  type LimitedApp,
  type LimitedAppOptions,
  redisStore,
  sendRequests,
} from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store at start-up', () => {
  let logger: ReturnType<typeof mockServices.logger.mock>;
  const servers: RedisServerHandle[] = [];
  const apps: LimitedApp[] = [];
  const createApp = (options: Omit<LimitedAppOptions, 'logger' | 'outageSettleMs'>) => {
    const app = createLimitedApp({ ...options, logger, outageSettleMs: 200 });
    apps.push(app);
    return app;
  };
  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));

  beforeEach(() => {
    logger = mockServices.logger.mock();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map(app => app.shutdown()));
    await Promise.all(servers.splice(0).map(server => server.stop()));
  });

  it('serves while Redis is down at boot, limiting in memory, and counts in Redis once it comes up', async () => {
    const port = await freePort();
    const app = createApp({
      store: redisStore(`redis://127.0.0.1:${port}`),
      pluginId: 'boot',
      limit: 2,
    });

    expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 429]);
    expect(warnings()).toEqual([
      expect.stringMatching(/redis:\/\/127\.0\.0\.1:\d+ is unreachable at start-up/),
    ]);

    const redis = await startRedisServer({ port });
    servers.push(redis);
    await waitUntil('the store reports Redis reachable', () => warnings().length === 2);
    expect(await sendRequests(app, CLIENT_B, 3)).toEqual([200, 200, 429]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:boot:', CLIENT_B))).toBe('3');
  });

  it.each([
    ['not a URL', 'not a url'],
    ['another scheme', 'http://127.0.0.1:6379'],
    ['an empty cluster', []],
  ])('refuses to start, naming the key, when the connection is %s', (_case, connection) => {
    expect(() =>
      createLimitedApp({ store: redisStore(connection as string | string[]), limit: 1, logger }),
    ).toThrow(
      expect.objectContaining({
        code: ERROR_CODES.config,
        key: 'backend.rateLimit.store.connection',
      }),
    );
  });

  it('serves with a warning when the password is wrong', async () => {
    const redis = await startRedisServer({ password: 'right-password' });
    servers.push(redis);
    const app = createApp({
      store: redisStore(`redis://:wrong-password@127.0.0.1:${redis.port}`),
      pluginId: 'auth',
      limit: 1,
    });

    expect(await sendRequests(app, CLIENT_A, 2)).toEqual([200, 429]);
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
    const app = createApp({
      store: redisStore(redis.url),
      pluginId: 'auth',
      limit: 5,
    });

    expect(await sendRequests(app, CLIENT_A, 2)).toEqual([200, 200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:auth:', CLIENT_A))).toBe('2');
    expect(logger.warn).not.toHaveBeenCalled();
  });
});
