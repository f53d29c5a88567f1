import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createCountingAuthServices } from '../helpers/countingAuthServices';
import { createExamplePlugin } from '../helpers/createExamplePlugin';
import { createLogCollector } from '../helpers/createLogCollector';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { TEST_KEY_SECRET } from '../helpers/startRateLimitBackend';

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

let plugins = 0;
/** A backend whose root config the test changes while it runs, as a watched config file would. */
async function startBackend(store: JsonObject) {
  const logs = createLogCollector();
  const pluginId = `live${(plugins += 1)}`;
  const rateLimit = (keys: JsonObject) => ({
    backend: {
      rateLimit: {
        global: false,
        ipAllowList: [],
        keySecret: TEST_KEY_SECRET,
        store,
        plugin: { [pluginId]: {} },
        ...keys,
      },
    },
  });
  const config = mockServices.rootConfig({ data: rateLimit({ incomingRequestLimit: 2 }) });
  const backend = await startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...createCountingAuthServices().features,
      logs.factory,
      createServiceFactory({ service: coreServices.rootConfig, deps: {}, factory: () => config }),
      createExamplePlugin({ pluginId }),
    ],
  });
  const statuses = async (n: number) => {
    const result = [];
    for (let i = 0; i < n; i++) {
      result.push((await request(backend.server).get(`/api/${pluginId}/public/1`)).status);
    }
    return result;
  };
  return {
    backend,
    logs,
    statuses,
    update: (keys: JsonObject) => config.update({ data: rateLimit(keys) }),
  };
}

describe.each([
  ['memory', (): JsonObject => ({ type: 'memory' })],
  ['redis', (): JsonObject => ({ type: 'redis', connection: redis.url, timeout: { seconds: 2 } })],
])('live limits with the %s store', (_name, store) => {
  it('raises and lowers a limit in a running backend, keeping the counts so far', async () => {
    const { backend, statuses, update } = await startBackend(store());
    try {
      expect(await statuses(3)).toEqual([401, 401, 429]);
      update({ incomingRequestLimit: 5 });
      // Three counted so far: two more, then 429.
      expect(await statuses(3)).toEqual([401, 401, 429]);
      update({ incomingRequestLimit: 5, dryRun: true });
      expect(await statuses(2)).toEqual([401, 401]);
      update({ incomingRequestLimit: 1 });
      expect(await statuses(1)).toEqual([429]);
    } finally {
      await backend.stop();
    }
  });

  it('refuses an update that does not validate, naming the key, and keeps the old limit', async () => {
    const { backend, logs, statuses, update } = await startBackend(store());
    try {
      update({ incomingRequestLimit: -1 });
      expect(logs.messages('error')).toEqual([
        expect.stringMatching(/kept as they were: .*backend\.rateLimit\.incomingRequestLimit/),
      ]);
      expect(await statuses(3)).toEqual([401, 401, 429]);
    } finally {
      await backend.stop();
    }
  });

  it('keeps the old store with one warning when the store changes', async () => {
    const { backend, logs, statuses, update } = await startBackend(store());
    try {
      expect(await statuses(1)).toEqual([401]);
      update({
        incomingRequestLimit: 3,
        store: { type: 'redis', connection: 'redis://127.0.0.1:1', timeout: { seconds: 2 } },
      });
      expect(
        logs.messages('warn').filter(message => message.includes('after a restart')),
      ).toHaveLength(1);
      expect(await statuses(3)).toEqual([401, 401, 429]);
    } finally {
      await backend.stop();
    }
  });
});
