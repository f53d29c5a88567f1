import { mockServices } from '@backstage/backend-test-utils';
import { createRedisRateLimitStore } from '../../rateLimit/createRedisRateLimitStore';
import { closeRedisRateLimitClients } from '../../rateLimit/redis/redisConnectionRegistry';
import { type RedisClusterHandle, startRedisCluster } from '../helpers/redisServer';
import { createLimitedApp, sendRequests } from './redis/createLimitedApp';

describe('the Redis rate-limit store on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  const logger = mockServices.logger.mock();

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  afterAll(async () => {
    await closeRedisRateLimitClients();
    await cluster.stop();
  });

  const createApp = (limit: number) =>
    createLimitedApp({
      store: createRedisRateLimitStore({
        connection: cluster.urls,
        prefix: 'rl:plugin:cluster:',
        timeoutMs: 500,
        logger,
      }),
      limit,
    });

  it('shares one budget per client between two apps, with counters spread over the nodes', async () => {
    const instanceA = createApp(3);
    const instanceB = createApp(3);
    const clients = Array.from({ length: 6 }, (_, index) => `client-${index}`);

    for (const client of clients) {
      expect(await sendRequests(instanceA, client, 3)).toEqual([200, 200, 200]);
      expect(await sendRequests(instanceB, client, 1)).toEqual([429]);
    }

    const counts = await Promise.all(
      clients.map(client => cluster.cli('GET', `rl:plugin:cluster:${client}`)),
    );
    expect(counts).toEqual(clients.map(() => '4'));
    const keysPerNode = await Promise.all(cluster.nodes.map(node => node.cli('DBSIZE')));
    expect(keysPerNode.filter(count => Number(count) > 0).length).toBeGreaterThan(1);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('reloads its script on the node that lost it', async () => {
    const app = createApp(100);
    expect(await sendRequests(app, 'client-flush', 1)).toEqual([200]);

    await Promise.all(cluster.nodes.map(node => node.cli('SCRIPT', 'FLUSH')));

    expect(await sendRequests(app, 'client-flush', 2)).toEqual([200, 200]);
    expect(await cluster.cli('GET', 'rl:plugin:cluster:client-flush')).toBe('3');
    expect(logger.warn).not.toHaveBeenCalled();
  });
});
