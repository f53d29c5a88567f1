import { budgetKey } from '../helpers/startRateLimitBackend';
import { mockServices } from '@backstage/backend-test-utils';
import { createRedisConnections } from '../../redis/connection';
import { type RedisClusterHandle, startRedisCluster } from '../helpers/redisServer';
import {
  createLimitedApp,
  type LimitedApp,
  redisStore,
  sendRequest,
  sendRequests,
} from './redis/createLimitedApp';
import { waitUntil } from './redis/waitUntil';

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

describe('the Redis rate-limit store on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  const logger = mockServices.logger.mock();
  const apps: LimitedApp[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  afterAll(async () => {
    await Promise.all(apps.map(app => app.shutdown()));
    await cluster.stop();
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
