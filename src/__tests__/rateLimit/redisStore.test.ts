import type { JsonObject } from '@backstage/types';
import type { IncrementResponse, Options } from 'express-rate-limit';
import { mockServices, mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { ERROR_CODES } from '../../errors';
import { createRedisConnections } from '../../redis/connection';
import { createTestCertificates, type TestCertificates } from '../helpers/createTestCertificates';
import { freePort } from '../helpers/freePort';
import {
  HEALTHY_REDIS_TIMEOUT_MS,
  type RedisServerHandle,
  startRedisServer,
  type RedisClusterHandle,
  startRedisCluster,
} from '../helpers/redisServer';
import { createTestRedisStore } from '../helpers/redisStores';
import { budgetKey, startRateLimitBackend, redisRateLimit } from '../helpers/startRateLimitBackend';
import {
  createLimitedApp,
  redisStore,
  sendRequest,
  sendRequests,
  shutdownLimitedApps,
  type LimitedApp,
  type LimitedAppOptions,
} from './redis/createLimitedApp';
import { countHits } from './redis/countInChildProcess';
import { waitUntil } from '../helpers/waitUntil';

const CLIENT_A = '198.51.100.1';
const CLIENT_B = '198.51.100.2';

describe('the Redis rate-limit store', () => {
  let redis: RedisServerHandle;
  let pluginCount = 0;
  /** A plugin id no other test uses, so that tests sharing the server do not share counters. */
  const freshPluginId = () => `plugin-${++pluginCount}`;
  const connectionsNamed = async () =>
    (await redis.cli('CLIENT', 'LIST'))
      .split('\n')
      .filter(line => line.includes('name=backstage-http-router-rate-limit')).length;

  /** Stores a test made itself; shut down after it, also when it fails, so that no connection outlives the file. */
  const stores: Array<ReturnType<typeof createTestRedisStore>> = [];
  const createStore = (prefix: string) => {
    const store = createTestRedisStore({
      connection: redis.url,
      prefix,
      timeoutMs: HEALTHY_REDIS_TIMEOUT_MS,
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    await shutdownLimitedApps();
    await Promise.all(stores.splice(0).map(store => store.shutdown?.()));
  });
  afterAll(async () => {
    await redis.stop();
  });

  describe.each<[string, () => JsonObject]>([
    ['memory', () => ({ type: 'memory' })],
    ['redis', () => redisStore(redis.url)],
  ])('behind the shipped limiter, with the %s store', (_name, store) => {
    it('lets a client through up to the limit, then answers 429 with Retry-After', async () => {
      const pluginId = freshPluginId();
      const app = createLimitedApp({ store: store(), pluginId, limit: 3 });

      expect(await sendRequests(app, CLIENT_A, 3)).toEqual([200, 200, 200]);
      const limited = await sendRequest(app, CLIENT_A);

      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit-policy']).toMatch(`"plugin-${pluginId}"; q=3; w=60; pk=`);
      expect(limited.headers['ratelimit']).toMatch(
        new RegExp(`^"plugin-${pluginId}"; r=0; t=\\d+$`),
      );
    });

    it('counts each client on its own', async () => {
      const app = createLimitedApp({ store: store(), pluginId: freshPluginId(), limit: 1 });

      expect(await sendRequests(app, CLIENT_A, 2)).toEqual([200, 429]);
      expect(await sendRequests(app, CLIENT_B, 1)).toEqual([200]);
    });
  });

  it('counts, takes a hit back with decrement and forgets a client with resetKey, in Redis', async () => {
    const store = createStore('rl:direct:');
    store.init?.({ windowMs: 60_000 } as Options);
    const increment = async () => ((await store.increment('k')) as IncrementResponse).totalHits;

    expect([await increment(), await increment()]).toEqual([1, 2]);
    await store.decrement('k');
    expect(await redis.cli('GET', 'rl:direct:k')).toBe('1');
    expect(await store.get?.('k')).toMatchObject({ totalHits: 1 });
    await store.resetKey('k');
    expect(await redis.cli('EXISTS', 'rl:direct:k')).toBe('0');
    expect(await increment()).toBe(1);
  });

  it('keeps the fallback clean-up timer within range for a window longer than a timer can wait', async () => {
    // Beyond 2^31-1 ms Node replaces the delay by 1 ms: the clean-up would then run a thousand times a second.
    const setIntervalSpy = jest.spyOn(global, 'setInterval');
    try {
      const store = createStore('rl:long:');
      store.init?.({ windowMs: 30 * 24 * 3600 * 1000 } as Options);
      const delays = setIntervalSpy.mock.calls.map(([, delay]) => delay);
      expect(delays).toEqual([2 ** 31 - 1]);
    } finally {
      setIntervalSpy.mockRestore();
    }
  });

  it('shares one budget between two apps, as two backend instances would', async () => {
    const pluginId = freshPluginId();
    const instanceA = createLimitedApp({ store: redisStore(redis.url), pluginId, limit: 4 });
    const instanceB = createLimitedApp({ store: redisStore(redis.url), pluginId, limit: 4 });

    expect(await sendRequests(instanceA, CLIENT_A, 4)).toEqual([200, 200, 200, 200]);
    expect(await sendRequests(instanceB, CLIENT_A, 1)).toEqual([429]);
    expect(await sendRequests(instanceB, CLIENT_B, 1)).toEqual([200]);
  });

  it('keeps counters under the limiter prefix, expiring with the window', async () => {
    const store = redisStore(redis.url);
    const pluginApp = createLimitedApp({ store, pluginId: 'catalog', limit: 10, window: '30s' });
    const bothApp = createLimitedApp({
      store,
      pluginId: 'search',
      global: true,
      limit: 10,
      window: '30s',
    });

    await sendRequests(pluginApp, CLIENT_A, 2);
    await sendRequests(bothApp, CLIENT_A, 1);

    expect(await redis.cli('GET', budgetKey('rl:plugin:catalog:', CLIENT_A))).toBe('2');
    expect(await redis.cli('GET', budgetKey('rl:plugin:search:', CLIENT_A))).toBe('1');
    expect(await redis.cli('GET', budgetKey('rl:global:', CLIENT_A))).toBe('1');
    const ttl = Number(await redis.cli('PTTL', budgetKey('rl:plugin:catalog:', CLIENT_A)));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('opens one connection per Redis for all limiters of a backend, and closes it with the last one', async () => {
    const apps = [
      createLimitedApp({ store: redisStore(redis.url), pluginId: 'catalog', limit: 10 }),
      createLimitedApp({
        store: redisStore(redis.url),
        pluginId: 'scaffolder',
        global: true,
        limit: 10,
      }),
    ];
    for (const app of apps) {
      await sendRequests(app, CLIENT_A, 1);
    }
    // One for each app, whose all-plugins and plugin limiters share theirs.
    expect(await connectionsNamed()).toBe(2);

    await apps[0].shutdown();
    await waitUntil('the server sees one connection', async () => (await connectionsNamed()) === 1);
    expect(await sendRequests(apps[1], CLIENT_B, 1)).toEqual([200]);
    expect(await redis.cli('GET', budgetKey('rl:plugin:scaffolder:', CLIENT_B))).toBe('1');
    await apps[1].shutdown();
    await waitUntil('the server sees no connection', async () => (await connectionsNamed()) === 0);
  });
});

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

const execFileAsync = promisify(execFile);

/** What `countHits` reports, and `countInChildProcess.ts` prints for each count. */
type CountReport = Awaited<ReturnType<typeof countHits>>;

type ChildCount = { connection: string; prefix: string; key: string; hits: number };

/** Runs each count with a store of its own, at once, in one child process that also trusts `caFile`. */
async function countInChildProcess(counts: ChildCount[], caFile: string): Promise<CountReport[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: caFile };
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      '--require', 'ts-node/register/transpile-only',
      join(__dirname, 'redis', 'countInChildProcess.ts'),
      ...counts.flatMap(count => [count.connection, count.prefix, count.key, String(count.hits)]),
    ], // prettier-ignore
    // Below jest's own timeout, so that a child that hangs is killed with the test that waits for it.
    { env, timeout: 20_000 },
  );
  return JSON.parse(stdout) as CountReport[];
}

/** A TLS-enabled Redis and the counts of the TLS tests against it, running. */
interface TlsRun {
  redis: RedisServerHandle;
  reports: Record<'trusted' | 'untrusted' | 'plainPort', Promise<CountReport>>;
}

async function startTlsRun(certificates: TestCertificates): Promise<TlsRun> {
  const tlsPort = await freePort();
  // The plain port serves the test's own redis-cli, and shows that a rediss:// URL never falls back to plain.
  const redis = await startRedisServer({
    args: [
      '--tls-port', String(tlsPort),
      '--tls-cert-file', certificates.certFile,
      '--tls-key-file', certificates.keyFile,
      '--tls-ca-cert-file', certificates.caFile,
      '--tls-auth-clients', 'no',
    ], // prettier-ignore
  }).catch(error => {
    throw new Error(
      `The TLS tests need a redis-server built with TLS support (Debian's is): ${(error as Error).message}`,
      { cause: error },
    );
  });
  const tlsUrl = `rediss://127.0.0.1:${tlsPort}`;
  // A child, since a process trusts NODE_EXTRA_CA_CERTS only from its start; it runs its counts at once.
  const trusting = countInChildProcess(
    [
      { connection: tlsUrl, prefix: 'rl:plugin:tls:', key: 'client-a', hits: 3 },
      {
        connection: `rediss://127.0.0.1:${redis.port}`,
        prefix: 'rl:plugin:tls:',
        key: 'client-c',
        hits: 1,
      },
    ],
    certificates.caFile,
  );
  const reports = {
    trusted: trusting.then(([report]) => report),
    plainPort: trusting.then(([, report]) => report),
    // This process trusts Node's built-in authorities only, never the throwaway one.
    untrusted: countHits(tlsUrl, 'rl:plugin:tls:', 'client-b', 3),
  };
  // Each test awaits its own; until then a failed child must not count as an unhandled rejection.
  Object.values(reports).forEach(report => report.catch(() => undefined));
  return { redis, reports };
}

/**
 * Started with the file, not the block: the counts wait mostly on handshakes and a connect timeout, which
 * overlap the tests before them.
 */
let certificates: Promise<TestCertificates>;
let tlsRun: Promise<TlsRun>;

beforeAll(() => {
  certificates = createTestCertificates();
  tlsRun = certificates.then(startTlsRun);
  tlsRun.catch(() => undefined);
});

afterAll(async () => {
  const run = await tlsRun?.catch(() => undefined);
  await Promise.allSettled(Object.values(run?.reports ?? {}));
  await run?.redis.stop();
  await (await certificates?.catch(() => undefined))?.remove();
});

describe('the Redis rate-limit store over TLS (rediss://)', () => {
  let redis: RedisServerHandle;
  let reports: TlsRun['reports'];

  beforeAll(async () => {
    ({ redis, reports } = await tlsRun);
  });

  it('counts in Redis through a TLS connection to a server whose authority the process trusts', async () => {
    expect(await reports.trusted).toEqual({ totals: [1, 2, 3], warnings: [], errors: [] });
    expect(await redis.cli('GET', 'rl:plugin:tls:client-a')).toBe('3');
  });

  it('does not count in a server whose certificate it cannot verify: it warns and limits in memory', async () => {
    const report = await reports.untrusted;

    expect(report.totals).toEqual([1, 2, 3]);
    expect(report.warnings).toEqual([
      expect.stringMatching(
        /rediss:\/\/127\.0\.0\.1:\d+ is unreachable at start-up \(.*certificate.*\)/,
      ),
    ]);
    expect(await redis.cli('EXISTS', 'rl:plugin:tls:client-b')).toBe('0');
  });

  it('does not fall back to a plain connection when the URL asks for TLS', async () => {
    // The plain port never completes a TLS handshake, so the attempt ends with the client's connect timeout.
    const report = await reports.plainPort;

    expect(report.totals).toEqual([1]);
    expect(report.warnings).toEqual([expect.stringMatching(/is unreachable at start-up/)]);
    expect(await redis.cli('EXISTS', 'rl:plugin:tls:client-c')).toBe('0');
  });
});

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
    // Each app's connection finds the refusal on its own reconnection.
    await waitUntil('both stores report the refusal', () => errors().length === 2);
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

/**
 * How long Redis must answer without a failure before an outage is reported over, shortened for these tests;
 * still longer than the client's pause between two attempts to reach a node that is gone (up to 1 s), as the
 * default is.
 */
const SETTLE_MS = 1_500;
/** The test waits up to this long for an outage to be reported over. */
const OUTAGE_REPORTED_OVER_MS = 5_000;
/**
 * How long the test keeps sending requests to a cluster with a master gone: longer than {@link SETTLE_MS}, so that
 * a log that flapped would show.
 */
const MASTER_GONE_MS = SETTLE_MS + 500;
/**
 * `store.timeout` while a master is gone: requests for its keys give up after this long, yet a loaded machine's
 * round trip to a live node stays well within it.
 */
const NODE_DOWN_TIMEOUT = '1s';
/** Addresses of twelve clients, whose keys spread over the nodes. */
const clientAddress = (index: number) => `198.51.100.${index + 1}`;

/** Started with the file, so that the cluster forms while the tests before its block run. */
let clusterStarted: Promise<RedisClusterHandle>;

beforeAll(() => {
  clusterStarted = startRedisCluster();
  clusterStarted.catch(() => undefined);
});

afterAll(async () => {
  await (await clusterStarted?.catch(() => undefined))?.stop();
});

describe('the Redis rate-limit store on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  const logger = mockServices.logger.mock();
  const apps: LimitedApp[] = [];

  beforeAll(async () => {
    cluster = await clusterStarted;
  });

  afterAll(async () => {
    await Promise.all(apps.map(app => app.shutdown()));
  });

  const createApp = (limit: number) => {
    const app = createLimitedApp({
      store: redisStore(cluster.urls),
      pluginId: 'cluster',
      limit,
      logger,
      outageSettleMs: SETTLE_MS,
    });
    apps.push(app);
    return app;
  };

  it('shares one budget per client between two apps, with counters spread over the nodes', async () => {
    const instanceA = createApp(3);
    const instanceB = createApp(3);
    const clients = Array.from({ length: 6 }, (_, index) => clientAddress(index));

    for (const client of clients) {
      expect(await sendRequests(instanceA, client, 3)).toEqual([200, 200, 200]);
      expect(await sendRequests(instanceB, client, 1)).toEqual([429]);
    }

    const counts = await Promise.all(
      clients.map(client => cluster.cli('GET', budgetKey('rl:plugin:cluster:', client))),
    );
    expect(counts).toEqual(clients.map(() => '4'));
    const keysPerNode = await Promise.all(cluster.nodes.map(node => node.cli('DBSIZE')));
    expect(keysPerNode.filter(count => Number(count) > 0).length).toBeGreaterThan(1);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('reloads its script on the node that lost it', async () => {
    const app = createApp(100);
    const client = '203.0.113.7';
    expect(await sendRequests(app, client, 1)).toEqual([200]);

    await Promise.all(cluster.nodes.map(node => node.cli('SCRIPT', 'FLUSH')));

    expect(await sendRequests(app, client, 2)).toEqual([200, 200]);
    expect(await cluster.cli('GET', budgetKey('rl:plugin:cluster:', client))).toBe('3');
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('has a socket open to every master when its first connection attempt ends', async () => {
    const rateLimitClientsPerNode = () =>
      Promise.all(
        cluster.nodes.map(
          async node =>
            (await node.cli('CLIENT', 'LIST'))
              .split('\n')
              .filter(line => line.includes(' name=backstage-http-router-rate-limit ')).length,
        ),
      );
    const before = await rateLimitClientsPerNode();
    const lease = createRedisConnections().acquire({ connection: cluster.urls, timeoutMs: 321 });
    try {
      await lease.firstAttempt();
      const after = await rateLimitClientsPerNode();

      expect(after.map((count, index) => count - before[index] > 0)).toEqual([true, true, true]);
    } finally {
      lease.release();
    }
  });

  it('counts in Redis on the masters that loaded its script when another master refuses to load it', async () => {
    const [refusing, ...others] = cluster.nodes;
    const grant = (node: RedisServerHandle, rule: string) =>
      node.cli('ACL', 'SETUSER', 'partial', 'on', '>secret', '~*', '+@all', rule);
    await Promise.all([grant(refusing, '-script'), ...others.map(node => grant(node, '+script'))]);
    const myself = (await refusing.cli('CLUSTER', 'NODES'))
      .split('\n')
      .find(line => line.includes('myself'));
    const refusedSlots = (myself ?? '')
      .split(' ')
      .slice(8)
      .map(range => range.split('-').map(Number));
    const ownedByRefusing = async (key: string) => {
      const slot = Number(await cluster.cli('CLUSTER', 'KEYSLOT', key));
      return refusedSlots.some(([first, last = first]) => slot >= first && slot <= last);
    };
    const store = createTestRedisStore({
      connection: cluster.urls.map(url => url.replace('redis://', 'redis://partial:secret@')),
      prefix: 'rl:partial:',
      timeoutMs: HEALTHY_REDIS_TIMEOUT_MS,
    });
    try {
      store.init?.({ windowMs: 60_000 } as Options);
      const keys = Array.from({ length: 12 }, (_, index) => `client-${index}`);
      const elsewhere: string[] = [];
      for (const key of keys) {
        await store.increment(key);
        if (!(await ownedByRefusing(`rl:partial:${key}`))) elsewhere.push(key);
      }

      expect(elsewhere.length).toBeGreaterThan(0);
      const inRedis = await Promise.all(
        elsewhere.map(key => cluster.cli('GET', `rl:partial:${key}`)),
      );
      expect(inRedis).toEqual(elsewhere.map(() => '1'));
    } finally {
      await store.shutdown?.();
      await Promise.all(cluster.nodes.map(node => node.cli('ACL', 'DELUSER', 'partial')));
    }
  });

  // Last, since it takes a node down; it waits for the cluster to heal before it ends.
  it('answers every request with one master gone, logs that as one outage, and counts in Redis once it is back', async () => {
    const nodeLogger = mockServices.logger.mock();
    const warnings = () => nodeLogger.warn.mock.calls.map(([message]) => String(message));
    const app = createLimitedApp({
      store: redisStore(cluster.urls, NODE_DOWN_TIMEOUT),
      pluginId: 'node-down',
      limit: 10_000,
      logger: nodeLogger,
      outageSettleMs: SETTLE_MS,
    });
    apps.push(app);
    const clients = Array.from({ length: 12 }, (_, index) => clientAddress(index));
    const countsInRedis = () =>
      Promise.all(
        clients.map(client => cluster.cli('GET', budgetKey('rl:plugin:node-down:', client))),
      );
    const sendRound = () =>
      Promise.all(
        clients.map(client => sendRequest(app, client).then(response => response.status)),
      );

    // A new cluster client may miss the first requests' timeout while it connects to each node; let that pass.
    await waitUntil(
      'every client is counted in Redis',
      async () => {
        await sendRound();
        return (await countsInRedis()).every(count => Number(count) > 0);
      },
      15_000,
    );
    await waitUntil(
      'no outage is open',
      () => warnings().length % 2 === 0,
      OUTAGE_REPORTED_OVER_MS,
    );
    const before = warnings().length;

    // The victim holds some of this test's keys, but is not the node the test's redis-cli talks to.
    const ownKeys = await Promise.all(
      cluster.nodes.map(node => node.cli('KEYS', 'rl:plugin:node-down:*')),
    );
    const victim = cluster.nodes[ownKeys[1] !== '' ? 1 : 2];
    await victim.kill();
    // Longer than the time without a failure that ends an outage, so that a flapping log would show.
    const results = [];
    const killedAt = Date.now();
    while (Date.now() - killedAt < MASTER_GONE_MS) {
      results.push(...(await sendRound()));
    }

    expect(results).toEqual(results.map(() => 200));
    expect(warnings().slice(before)).toEqual([expect.stringMatching(/ is unreachable \(/)]);

    await victim.restart();
    await waitUntil(
      'the cluster is whole again',
      async () => {
        const infos = await Promise.all(cluster.nodes.map(node => node.cli('CLUSTER', 'INFO')));
        return infos.every(info => info.includes('cluster_state:ok'));
      },
      15_000,
    );
    const counted = await countsInRedis();
    await waitUntil('every client is counted in Redis again', async () => {
      await sendRound();
      const now = await countsInRedis();
      return now.every((count, index) => Number(count) > Number(counted[index]));
    });
    await waitUntil(
      'the store reports Redis back',
      () => warnings().length > before + 1,
      OUTAGE_REPORTED_OVER_MS,
    );
    expect(warnings().slice(before)).toEqual([
      expect.stringMatching(/ is unreachable \(/),
      expect.stringMatching(/ is reachable again after \d+ ms/),
    ]);
  }, 60_000);
});
