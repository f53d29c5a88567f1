import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { METRIC_NAMES } from '../../metrics';
import { createCountingAuthServices } from '../helpers/countingAuthServices';
import { createExamplePlugin } from '../helpers/createExamplePlugin';
import { createLogCollector } from '../helpers/createLogCollector';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { TEST_KEY_SECRET } from '../helpers/startRateLimitBackend';

let redis: RedisServerHandle;
let sdk: MetricsSdk;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(() => {
  sdk = startMetricsSdk();
});
afterEach(async () => {
  await sdk.stop();
});

let plugins = 0;
async function startBackend(rateLimit: JsonObject) {
  const logs = createLogCollector();
  const pluginId = `dry${(plugins += 1)}`;
  const backend = await startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...createCountingAuthServices().features,
      logs.factory,
      mockServices.rootConfig.factory({
        data: {
          backend: {
            rateLimit: { ...rateLimit, keySecret: TEST_KEY_SECRET, plugin: { [pluginId]: {} } },
          },
        },
      }),
      createExamplePlugin({ pluginId }),
    ],
  });
  const get = (authorization?: string) => {
    const req = request(backend.server).get(`/api/${pluginId}/hello`);
    return authorization ? req.set('Authorization', authorization) : req;
  };
  return { backend, logs, get };
}

async function outcomes(): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const point of await sdk.collect()) {
    if (point.name === METRIC_NAMES.rateLimitDecisions) {
      const key = `${point.attributes.limiter} ${point.attributes.outcome}`;
      result[key] = (result[key] ?? 0) + point.value;
    }
  }
  return result;
}

describe.each([
  ['memory', (): JsonObject => ({ type: 'memory' })],
  ['redis', (): JsonObject => ({ type: 'redis', connection: redis.url, timeout: { seconds: 2 } })],
])('dryRun with the %s store', (_name, store) => {
  it('serves 10 requests over a limit of 3, records 7 would-be refusals and warns once', async () => {
    const { backend, logs, get } = await startBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 3,
      dryRun: true,
      store: store(),
    });
    try {
      const answers = [];
      for (let i = 0; i < 10; i++) answers.push(await get(mockCredentials.user.header()));
      expect(answers.map(res => res.status)).toEqual(Array(10).fill(200));
      expect(answers[9].headers['x-ratelimit-remaining']).toBe('0');
      expect(answers[9].headers['retry-after']).toBeUndefined();
      const counted = await outcomes();
      expect(Object.entries(counted).filter(([key]) => key.endsWith('dry_run_limited'))).toEqual([
        [expect.stringMatching(/^plugin-dry\d+ dry_run_limited$/), 7],
      ]);
      const warnings = logs.messages('warn').filter(message => message.includes('dryRun'));
      expect(warnings).toEqual([expect.stringMatching(/would have refused a request \(dryRun\)/)]);
    } finally {
      await backend.stop();
    }
  });

  it('lets bad credentials past the failed-authentication limit reach verification, to their 401', async () => {
    const { backend, get } = await startBackend({
      global: false,
      ipAllowList: [],
      failedAuthenticationLimit: 1,
      dryRun: true,
      store: store(),
    });
    try {
      const invalid = mockCredentials.user.invalidHeader();
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await get(invalid)).status);
      expect(statuses).toEqual([401, 401, 401]);
    } finally {
      await backend.stop();
    }
  });
});
