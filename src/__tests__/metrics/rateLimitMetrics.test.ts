import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { METRIC_NAMES } from '../../metrics';
import { rootHttpRouterServiceFactory } from '../../httpRouter/rootHttpRouterServiceFactory';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { startRedisServer } from '../helpers/redisServer';
import { startRootRouterBackend } from '../helpers/startRootRouterBackend';
import { redisRateLimit } from '../helpers/startRateLimitBackend';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

type Backend = Awaited<ReturnType<typeof startTestBackend>>;

const ALICE = mockCredentials.user.header('user:default/alice');
const BOB = mockCredentials.user.header('user:default/bob');

function startBackend(rateLimit: JsonObject): Promise<Backend> {
  return startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      mockServices.rootConfig.factory({ data: { backend: { rateLimit } } }),
      createExamplePlugin({ pluginId: 'example', policies: EXAMPLE_POLICIES }),
      createExamplePlugin({ pluginId: 'other', policies: EXAMPLE_POLICIES }),
    ],
  });
}

async function statuses(backend: Backend, path: string, authorization: string | undefined, n = 1) {
  const result: number[] = [];
  for (let i = 0; i < n; i++) {
    const req = request(backend.server).get(path);
    result.push((await (authorization ? req.set('Authorization', authorization) : req)).status);
  }
  return result;
}

/** The decisions recorded so far, one line per data point: scope, attributes and count, sorted. */
async function decisions(sdk: MetricsSdk): Promise<string[]> {
  return (await sdk.collect())
    .filter(point => point.name === METRIC_NAMES.rateLimitDecisions)
    .map(({ scope, attributes, value }) => {
      const { plugin = '-', limiter, outcome, bucket = '-', ...rest } = attributes;
      expect(rest).toEqual({});
      return `${scope} ${plugin} ${limiter} ${bucket} ${outcome} ${value}`;
    })
    .sort();
}

describe('rate-limit decisions, with an OpenTelemetry SDK registered before a real backend starts', () => {
  let sdk: MetricsSdk;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(() => {
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
    await sdk.stop();
  });

  it("counts N requests over a plugin's limit as exactly N limited decisions", async () => {
    const backend = await startBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 3,
      plugin: { example: {} },
    });
    cleanups.push(() => backend.stop());

    expect(await statuses(backend, '/api/example/public/1', undefined, 7)).toEqual([
      200, 200, 200, 429, 429, 429, 429,
    ]);
    expect(await statuses(backend, '/api/other/public/1', undefined, 2)).toEqual([200, 200]);
    expect(await decisions(sdk)).toEqual([
      'backstage-plugin-example example plugin-example - allowed 3',
      'backstage-plugin-example example plugin-example - limited 4',
    ]);
  });

  it.each([
    ['per address', {}],
    ['per principal', { userRequestLimit: 1 }],
  ])('counts requests from the allow list as allow_listed only (%s)', async (_, budgets) => {
    const backend = await startBackend({
      global: false,
      incomingRequestLimit: 1,
      ...budgets,
      plugin: { example: {} },
    });
    cleanups.push(() => backend.stop());

    expect(await statuses(backend, '/api/example/hello', ALICE, 3)).toEqual([200, 200, 200]);
    expect(await decisions(sdk)).toEqual([
      'backstage-plugin-example example plugin-example - allow_listed 3',
    ]);
  });

  it('names the budget of per-principal limiting as bucket, never the principal or the address', async () => {
    const backend = await startBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 1,
      userRequestLimit: 2,
      plugin: { example: {} },
    });
    cleanups.push(() => backend.stop());

    expect(await statuses(backend, '/api/example/hello', ALICE, 3)).toEqual([200, 200, 429]);
    expect(await statuses(backend, '/api/example/hello', BOB)).toEqual([200]);
    expect(await statuses(backend, '/api/example/public/1', undefined, 2)).toEqual([200, 429]);
    expect(await decisions(sdk)).toEqual([
      'backstage-plugin-example example plugin-example address allowed 1',
      'backstage-plugin-example example plugin-example address limited 1',
      'backstage-plugin-example example plugin-example user allowed 3',
      'backstage-plugin-example example plugin-example user limited 1',
    ]);
    const values = (await sdk.collect()).flatMap(point => Object.values(point.attributes));
    expect(values.filter(value => /alice|bob|user:|127\.0\.0\.1|::1/.test(String(value)))).toEqual(
      [],
    );
  });

  it('counts the all-plugins budgets in the plugin routers on the global meter, as limiter global', async () => {
    const backend = await startBackend({
      ipAllowList: [],
      incomingRequestLimit: 5,
      userRequestLimit: 1,
    });
    cleanups.push(() => backend.stop());

    expect(await statuses(backend, '/api/example/hello', ALICE)).toEqual([200]);
    expect(await statuses(backend, '/api/other/hello', ALICE)).toEqual([429]);
    expect(await decisions(sdk)).toEqual([
      'backstage-http-router - global user allowed 1',
      'backstage-http-router - global user limited 1',
    ]);
  });

  it("counts allow_listed in the layer whose allow list lets the request through, the other layer's budgets as usual", async () => {
    const backend = await startBackend({
      ipAllowList: [],
      incomingRequestLimit: 5,
      userRequestLimit: 5,
      plugin: { example: { ipAllowList: ['127.0.0.1', '::1'] } },
    });
    cleanups.push(() => backend.stop());

    expect(await statuses(backend, '/api/example/hello', ALICE, 2)).toEqual([200, 200]);
    expect(await decisions(sdk)).toEqual([
      'backstage-http-router - global user allowed 2',
      'backstage-plugin-example example plugin-example - allow_listed 2',
    ]);
  });

  it('gives an allow-listed request one all-plugins decision, in the plugin router with credentials, at the root without', async () => {
    const backend = await startRootRouterBackend(rootHttpRouterServiceFactory, {
      rateLimit: {
        ipAllowList: ['127.0.0.1', '::1'],
        incomingRequestLimit: 1,
        userRequestLimit: 1,
      },
    });
    cleanups.push(() => backend.stop());

    const answers: number[] = [];
    for (const authorization of [ALICE, ALICE, ALICE, undefined]) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      answers.push((await fetch(`${backend.baseUrl}/api/example/hello`, { headers })).status);
    }
    expect(answers).toEqual([200, 200, 200, 200]);
    expect(await decisions(sdk)).toEqual(['backstage-http-router - global - allow_listed 4']);
  });

  it("counts the root router's all-plugins limiter without a plugin attribute", async () => {
    const backend = await startRootRouterBackend(rootHttpRouterServiceFactory, {
      rateLimit: { ipAllowList: [], incomingRequestLimit: 2 },
    });
    cleanups.push(() => backend.stop());

    const answers: number[] = [];
    for (let i = 0; i < 3; i++) {
      answers.push((await fetch(`${backend.baseUrl}/api/example/hello`)).status);
    }
    expect(answers).toEqual([200, 200, 429]);
    expect(await decisions(sdk)).toEqual([
      'backstage-http-router - global - allowed 2',
      'backstage-http-router - global - limited 1',
    ]);
  });

  it('counts requests refused because Redis is down (fail closed) as store_error_refuse', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const backend = await startBackend(
      redisRateLimit(redis, { incomingRequestLimit: 5, passOnStoreError: false }),
    );
    cleanups.push(() => backend.stop());

    expect(await statuses(backend, '/api/example/public/1', undefined)).toEqual([200]);
    await redis.kill();
    expect(await statuses(backend, '/api/example/public/1', undefined, 2)).toEqual([503, 503]);
    expect(await decisions(sdk)).toEqual([
      'backstage-plugin-example example plugin-example - allowed 1',
      'backstage-plugin-example example plugin-example - store_error_refuse 2',
    ]);
  });

  it('counts a failed-authentication count that Redis could not read (fail closed) as store_error_refuse', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const backend = await startBackend(
      redisRateLimit(redis, {
        incomingRequestLimit: 5,
        failedAuthenticationLimit: 2,
        passOnStoreError: false,
      }),
    );
    cleanups.push(() => backend.stop());

    await redis.kill();
    expect(await statuses(backend, '/api/example/hello', ALICE)).toEqual([503]);
    expect(await statuses(backend, '/api/example/public/1', undefined)).toEqual([503]);
    expect(await decisions(sdk)).toEqual([
      'backstage-plugin-example example plugin-example address store_error_refuse 1',
      'backstage-plugin-example example plugin-example failed-authentication store_error_refuse 1',
    ]);
  });
});

describe('the router without an OpenTelemetry SDK', () => {
  it('serves, limits and refuses as usual, and records nothing', async () => {
    const backend = await startBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 1,
      plugin: { example: {} },
    });
    try {
      expect(await statuses(backend, '/api/example/public/1', undefined, 2)).toEqual([200, 429]);
      expect(await statuses(backend, '/api/example/hello', undefined)).toEqual([429]);
      expect(await statuses(backend, '/api/other/hello', undefined)).toEqual([401]);
      expect(await statuses(backend, '/api/other/public/1', undefined)).toEqual([200]);
      // An SDK registered once the backend runs sees nothing: the router's instruments are OpenTelemetry's
      // no-op ones, created before any SDK existed.
      const sdk = startMetricsSdk();
      try {
        expect(await statuses(backend, '/api/example/public/1', undefined)).toEqual([429]);
        expect(await statuses(backend, '/api/other/hello', undefined)).toEqual([401]);
        const names = Object.values(METRIC_NAMES) as string[];
        expect((await sdk.collect()).filter(point => names.includes(point.name))).toEqual([]);
      } finally {
        await sdk.stop();
      }
    } finally {
      await backend.stop();
    }
  });
});
