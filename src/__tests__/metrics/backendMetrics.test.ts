import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import Router from 'express-promise-router';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { rootHttpRouterServiceFactory } from '../../httpRouter/rootHttpRouterServiceFactory';
import { METRIC_NAMES, createHttpRouterMetrics, METRIC_PREFIX } from '../../metrics';
import { createLifecycleMiddleware } from '../../middleware/createLifecycleMiddleware';
import { createLimiter } from '../../rateLimit/limiter';
import { createRateLimitStore, rateLimitKeyPrefix } from '../../rateLimit/store';
import type { RateLimitOptions } from '../../rateLimit/types';
import { createRedisConnections } from '../../redis/connection';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { createTestApp } from '../helpers/createTestApp';
import { createTestLifecycle } from '../helpers/createTestLifecycle';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import {
  OUTAGE_TIMEOUT_MS,
  startRedisServer,
  type RedisServerHandle,
} from '../helpers/redisServer';
import { redisRateLimit, startRateLimitBackend, budgetKey } from '../helpers/startRateLimitBackend';
import { startRootRouterBackend } from '../helpers/startRootRouterBackend';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';
import { waitUntil } from '../helpers/waitUntil';

type Backend = Awaited<ReturnType<typeof startTestBackend>>;

const USER = { Authorization: mockCredentials.user.header() };
const INVALID = { Authorization: mockCredentials.user.invalidHeader() };
const COOKIE = { Cookie: mockCredentials.limitedUser.cookie() };
const INVALID_COOKIE = { Cookie: mockCredentials.limitedUser.invalidCookie() };

function startBackend(auth: JsonObject = {}): Promise<Backend> {
  return startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      mockServices.rootConfig.factory({ data: { backend: { auth } } }),
      createExamplePlugin({ pluginId: 'example', policies: EXAMPLE_POLICIES }),
    ],
  });
}

async function get(backend: Backend, path: string, headers: Record<string, string> = {}) {
  return (await request(backend.server).get(`/api/example${path}`).set(headers)).status;
}

/** The barrier's counts so far, one line per data point: name, attributes and count, sorted. */
async function barrierCounts(sdk: MetricsSdk): Promise<string[]> {
  const names: string[] = [METRIC_NAMES.authRefused, METRIC_NAMES.authPolicyAllowed];
  return (await sdk.collect())
    .filter(point => names.includes(point.name))
    .map(({ scope, name, attributes, value }) => {
      const { plugin, reason = '-', policy = '-', ...rest } = attributes;
      expect(rest).toEqual({});
      return `${scope} ${name} ${plugin} ${reason} ${policy} ${value}`;
    })
    .sort();
}

describe('credentials barrier metrics, with an OpenTelemetry SDK registered before a real backend starts', () => {
  let sdk: MetricsSdk;
  let backend: Backend | undefined;

  beforeEach(() => {
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    await backend?.stop();
    backend = undefined;
    await sdk.stop();
  });

  it('counts refused requests by reason: missing, invalid, limited_access', async () => {
    backend = await startBackend();
    expect(await get(backend, '/hello')).toBe(401);
    expect(await get(backend, '/hello')).toBe(401);
    expect(await get(backend, '/hello', INVALID)).toBe(401);
    // The cookie alone never passes where no user-cookie policy opens the path.
    expect(await get(backend, '/hello', COOKIE)).toBe(401);
    // A bad cookie where one is allowed did not verify.
    expect(await get(backend, '/cookie-ok', INVALID_COOKIE)).toBe(401);
    expect(await get(backend, '/hello', USER)).toBe(200);
    expect(await barrierCounts(sdk)).toEqual([
      `backstage-plugin-example ${METRIC_NAMES.authRefused} example invalid - 2`,
      `backstage-plugin-example ${METRIC_NAMES.authRefused} example limited_access - 1`,
      `backstage-plugin-example ${METRIC_NAMES.authRefused} example missing - 2`,
    ]);
  });

  it('counts requests let through by an unauthenticated or a user-cookie policy', async () => {
    backend = await startBackend();
    expect(await get(backend, '/public/1')).toBe(200);
    expect(await get(backend, '/public/2', USER)).toBe(200);
    expect(await get(backend, '/cookie-ok', COOKIE)).toBe(200);
    expect(await get(backend, '/cookie-ok', USER)).toBe(200);
    expect(await get(backend, '/cookie-ok', COOKIE)).toBe(200);
    expect(await get(backend, '/hello', USER)).toBe(200);
    expect(await barrierCounts(sdk)).toEqual([
      `backstage-plugin-example ${METRIC_NAMES.authPolicyAllowed} example - unauthenticated 2`,
      `backstage-plugin-example ${METRIC_NAMES.authPolicyAllowed} example - user-cookie 3`,
    ]);
  });

  it('counts nothing while the check is turned off', async () => {
    backend = await startBackend({ dangerouslyDisableDefaultAuthPolicy: true });
    expect(await get(backend, '/hello')).toBe(200);
    expect(await get(backend, '/public/1')).toBe(200);
    expect(await barrierCounts(sdk)).toEqual([]);
  });
});

describe('lifecycle gate', () => {
  /** A deferred step of the plugin that the test lets go of. */
  function hold() {
    let release!: () => void;
    const held = new Promise<void>(resolve => (release = resolve));
    return { held, release };
  }

  /**
   * The example plugin with an open `/hello`, whose init (and so its start) or shutdown waits until the test lets
   * it go; it tells its base URL as soon as the server listens, before it has started.
   */
  function createHeldPlugin(options: { startup?: Promise<void>; shutdown?: Promise<void> }) {
    let tellUrl!: (url: string) => void;
    const baseUrl = new Promise<string>(resolve => (tellUrl = resolve));
    const feature = createBackendPlugin({
      pluginId: 'example',
      register(env) {
        env.registerInit({
          deps: {
            http: coreServices.httpRouter,
            discovery: coreServices.discovery,
            lifecycle: coreServices.lifecycle,
          },
          async init({ http, discovery, lifecycle }) {
            const router = Router();
            router.get('/hello', async (_req, res) => {
              res.json({ hello: 'world' });
            });
            http.use(router);
            http.addAuthPolicy({ path: '/hello', allow: 'unauthenticated' });
            if (options.shutdown) {
              const shutdown = options.shutdown;
              lifecycle.addShutdownHook(() => shutdown);
            }
            tellUrl(await discovery.getBaseUrl('example'));
            await options.startup;
          },
        });
      },
    });
    return { feature, baseUrl };
  }

  const startBackend = (plugin: ReturnType<typeof createHeldPlugin>, startupTimeout = '10s') =>
    startTestBackend({
      features: [
        httpRouterServiceFactory,
        ...TEST_AUTH_SERVICES,
        plugin.feature,
        mockServices.rootConfig.factory({
          data: { backend: { lifecycle: { startupRequestPauseTimeout: startupTimeout } } },
        }),
      ],
    });

  /** Lets a held start-up go, so that a failed test never leaves a backend starting forever, and stops it. */
  async function releaseAndStop(
    startup: ReturnType<typeof hold>,
    starting: ReturnType<typeof startBackend>,
  ): Promise<void> {
    startup.release();
    await (await starting).stop();
  }

  /** The lifecycle gate's points as `name reason value`, with the plugin and scope checked. */
  async function gatePoints(
    sdk: MetricsSdk,
    scope = 'backstage-plugin-example',
  ): Promise<string[]> {
    return (await sdk.collect())
      .filter(
        point =>
          point.name === METRIC_NAMES.lifecycleRejected ||
          point.name === METRIC_NAMES.lifecycleWaiting,
      )
      .map(point => {
        expect(point.attributes.plugin).toBe('example');
        // startTestBackend registers Backstage's metrics service, which scopes each plugin's meter.
        expect(point.scope).toBe(scope);
        const name = point.name.slice(point.name.lastIndexOf('.') + 1);
        return `${name} ${point.attributes.reason ?? '-'} ${point.value}`;
      })
      .sort();
  }

  describe('lifecycle gate metrics, in a real backend', () => {
    let sdk: MetricsSdk;
    let stopBackend: (() => Promise<void>) | undefined;

    beforeEach(() => {
      // Before the backend: instruments created while no SDK is registered stay no-ops.
      sdk = startMetricsSdk();
    });

    afterEach(async () => {
      await stopBackend?.();
      stopBackend = undefined;
      await sdk.stop();
    });

    it('counts one startup_timeout 503 and shows the request waiting, then no longer', async () => {
      const startup = hold();
      const plugin = createHeldPlugin({ startup: startup.held });
      // Long enough to see the request waiting on a busy machine.
      const starting = startBackend(plugin, '1s');
      stopBackend = () => releaseAndStop(startup, starting);
      const url = await plugin.baseUrl;

      const answer = fetch(`${url}/hello`);
      await waitUntil('the request waits for start-up', async () =>
        (await gatePoints(sdk)).includes('waiting_requests - 1'),
      );
      expect((await answer).status).toBe(503);
      expect(await gatePoints(sdk)).toEqual(['rejected startup_timeout 1', 'waiting_requests - 0']);

      startup.release();
      await starting;
      expect((await fetch(`${url}/hello`)).status).toBe(200);
      expect(await gatePoints(sdk)).toEqual(['rejected startup_timeout 1', 'waiting_requests - 0']);
    });

    it('counts a request let through at start-up as waiting, then no longer, with no 503', async () => {
      const startup = hold();
      const plugin = createHeldPlugin({ startup: startup.held });
      const starting = startBackend(plugin);
      stopBackend = () => releaseAndStop(startup, starting);
      const url = await plugin.baseUrl;

      const answer = fetch(`${url}/hello`);
      await waitUntil('the request waits for start-up', async () =>
        (await gatePoints(sdk)).includes('waiting_requests - 1'),
      );
      startup.release();
      await starting;

      expect((await answer).status).toBe(200);
      expect(await gatePoints(sdk)).toEqual(['waiting_requests - 0']);
    });

    it('counts every request refused while the plugin shuts down as shutdown', async () => {
      const shutdown = hold();
      const plugin = createHeldPlugin({ shutdown: shutdown.held });
      const backend = await startBackend(plugin);
      const url = await plugin.baseUrl;
      expect((await fetch(`${url}/hello`)).status).toBe(200);

      const stopping = backend.stop();
      stopBackend = async () => {
        shutdown.release();
        await stopping;
      };
      let refused = 0;
      await waitUntil('the gate refuses requests', async () => {
        const status = (await fetch(`${url}/hello`)).status;
        refused += status === 503 ? 1 : 0;
        return status === 503;
      });
      for (let i = 0; i < 2; i++) {
        expect((await fetch(`${url}/hello`)).status).toBe(503);
        refused += 1;
      }

      expect(await gatePoints(sdk)).toEqual([`rejected shutdown ${refused}`]);
    });
  });

  describe('lifecycle gate metrics, on the gate alone', () => {
    let sdk: MetricsSdk;
    let server: http.Server | undefined;

    /** The gate recording on the global meter (the SDK's), in front of a route, served on a loopback port. */
    async function setup() {
      const { lifecycle, startup, shutdown } = createTestLifecycle();
      const gate = createLifecycleMiddleware({
        config: mockServices.rootConfig(),
        lifecycle,
        metrics: createHttpRouterMetrics({ pluginId: 'example' }).lifecycleGate,
      });
      const app = createTestApp(gate, (_req, res) => {
        res.json({ ok: true });
      });
      server = http.createServer(app).listen(0, '127.0.0.1');
      await once(server, 'listening');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const waiting = (count: number) =>
        waitUntil(`${count} request(s) wait`, async () =>
          (await gatePoints(sdk, 'backstage-http-router')).includes(`waiting_requests - ${count}`),
        );
      return { url, startup, shutdown, waiting };
    }

    beforeEach(() => {
      sdk = startMetricsSdk();
    });

    afterEach(async () => {
      server?.close();
      server = undefined;
      await sdk.stop();
    });

    it('counts requests still waiting when shutdown starts as shutdown 503s', async () => {
      const { url, shutdown, waiting } = await setup();

      const answers = [fetch(url), fetch(url)];
      await waiting(2);
      await shutdown();

      expect((await Promise.all(answers)).map(answer => answer.status)).toEqual([503, 503]);
      expect(await gatePoints(sdk, 'backstage-http-router')).toEqual([
        'rejected shutdown 2',
        'waiting_requests - 0',
      ]);
    });

    it('stops counting a request as waiting once its client gives up', async () => {
      const { url, startup, waiting } = await setup();

      const client = http.get(url);
      client.on('error', () => undefined);
      await waiting(1);
      client.destroy();
      await waiting(0);
      await startup();

      expect((await fetch(url)).status).toBe(200);
      expect(await gatePoints(sdk, 'backstage-http-router')).toEqual(['waiting_requests - 0']);
    });
  });
});

describe('rate limiting', () => {
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

  async function statuses(
    backend: Backend,
    path: string,
    authorization: string | undefined,
    n = 1,
  ) {
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
      expect(
        values.filter(value => /alice|bob|user:|127\.0\.0\.1|::1/.test(String(value))),
      ).toEqual([]);
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
});

describe('Redis metrics', () => {
  let sdk: MetricsSdk;
  let redis: RedisServerHandle;
  const shutdowns: Array<() => unknown> = [];

  beforeEach(async () => {
    // Before anything opens a connection: instruments created while no SDK is registered stay no-ops.
    sdk = startMetricsSdk();
    redis = await startRedisServer({ password: 'p@ss word' });
  });

  afterEach(async () => {
    redis.resume();
    await Promise.all(shutdowns.splice(0).map(shutdown => shutdown()));
    await redis.stop();
    await sdk.stop();
  });

  /** The histogram's series as `error.type count`, with the sum of each, checked against the plugin. */
  const histogram = async () =>
    (await sdk.collect())
      .filter(point => point.name === METRIC_NAMES.rateLimitStoreDuration)
      .map(point => {
        expect(point).toMatchObject({
          type: 'histogram',
          unit: 's',
          attributes: { plugin: 'example', limiter: 'plugin-example' },
        });
        // How many waits ended within 100 ms, and how many took longer than the timeout.
        const bucketsUpTo = (seconds: number) =>
          point.boundaries!.filter(boundary => boundary <= seconds).length;
        const counts = point.bucketCounts!;
        const sum = (from: number, to?: number) =>
          counts.slice(from, to).reduce((total, count) => total + count, 0);
        return {
          series: `${point.attributes['error.type'] ?? 'answered'} ${point.count}`,
          sum: point.value,
          upTo100ms: sum(0, bucketsUpTo(0.1)),
          pastTimeout: sum(bucketsUpTo(OUTAGE_TIMEOUT_MS / 1000)),
        };
      });

  describe('the fallback gauge, in a real backend', () => {
    /** The gauge's series as `connection value`. */
    const gauge = async () =>
      (await sdk.collect())
        .filter(point => point.name === METRIC_NAMES.redisFallback)
        .map(point => `${point.attributes.connection} ${point.value}`);

    it('reads 1 for the URL (without its password) while Redis is down, 0 once it is back, and 0 once closed', async () => {
      const backend = await startRateLimitBackend(redisRateLimit(redis), {
        policies: EXAMPLE_POLICIES,
      });
      const series = `redis://127.0.0.1:${redis.port}`;
      try {
        expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
        expect(await gauge()).toEqual([`${series} 0`]);

        await redis.kill();
        await waitUntil('the gauge shows the fallback', async () =>
          (await gauge()).includes(`${series} 1`),
        );
        // Fail open: requests go on, counted in memory.
        expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);

        await redis.restart();
        await waitUntil('the gauge shows Redis back', async () =>
          (await gauge()).includes(`${series} 0`),
        );

        await redis.kill();
        await waitUntil('the gauge shows the fallback again', async () =>
          (await gauge()).includes(`${series} 1`),
        );
      } finally {
        await backend.stop();
      }
      // The connection closed with the backend: no longer in fallback, where a probe left behind would read 1.
      expect(await gauge()).toEqual([`${series} 0`]);
    });
  });

  describe('the wait histogram, in a real backend', () => {
    it("records each count of the plugin's limiter with the plugin and limiter attributes", async () => {
      const backend = await startRateLimitBackend(redisRateLimit(redis), {
        policies: EXAMPLE_POLICIES,
      });
      try {
        for (let i = 0; i < 3; i++) {
          expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
        }
      } finally {
        await backend.stop();
      }

      const points = await histogram();
      expect(points.map(point => point.series)).toEqual(['answered 3']);
      expect(points[0].sum).toBeGreaterThan(0);
      expect(await redis.cli('GET', budgetKey('rl:plugin:example:', '127.0.0.1'))).toBe('3');
    });
  });

  describe('the wait histogram, around the shipped limiter', () => {
    /** A real express app with the limiter of plugin `example` over a Redis store that records on the SDK. */
    function createApp() {
      const options: RateLimitOptions = {
        windowMs: 60_000,
        limit: 1_000,
        ipAllowList: [],
        skipSuccessfulRequests: false,
        skipFailedRequests: false,
        passOnStoreError: true,
        store: { type: 'redis', connection: redis.url, timeoutMs: OUTAGE_TIMEOUT_MS },
      };
      const store = createRateLimitStore({
        options,
        prefix: rateLimitKeyPrefix('example'),
        connections: createRedisConnections(),
        metrics: createHttpRouterMetrics({ pluginId: 'example' }).rateLimit('plugin-example'),
      });
      shutdowns.push(() => store.shutdown?.());
      const limiter = createLimiter({ options, pluginId: 'example', store });
      return createTestApp(limiter, (_req, res) => {
        res.send('ok');
      });
    }

    it('records one wait per count that Redis answered', async () => {
      const app = createApp();
      for (let i = 0; i < 5; i++) {
        expect((await request(app).get('/')).status).toBe(200);
      }

      const points = await histogram();
      expect(points.map(point => point.series)).toEqual(['answered 5']);
      expect(points[0].sum).toBeGreaterThan(0);
      // An answer comes within the timeout or not at all: no wait lands past the timeout's bucket.
      expect(points[0].pastTimeout).toBe(0);
      expect(await redis.cli('GET', 'rl:plugin:example:127.0.0.1')).toBe('5');
    });

    it('records the waits that a hung Redis (SIGSTOP) timed out, and none for counts the breaker answers at once', async () => {
      const app = createApp();
      expect((await request(app).get('/')).status).toBe(200);

      redis.pause();
      const statuses = await Promise.all(
        [1, 2].map(() =>
          request(app)
            .get('/')
            .then(response => response.status),
        ),
      );
      expect(statuses).toEqual([200, 200]);
      // The breaker is open now: these never wait for Redis.
      for (let i = 0; i < 3; i++) {
        expect((await request(app).get('/')).status).toBe(200);
      }

      const points = await histogram();
      expect(points.map(point => point.series).sort()).toEqual(['answered 1', 'timeout 2']);
      const timeouts = points.find(point => point.series.startsWith('timeout'));
      // Both waited out the timeout: neither lands in a bucket of 100 ms or less.
      expect(timeouts?.upTo100ms).toBe(0);
    });

    it('records a count that Redis refused with an error as error', async () => {
      const app = createApp();
      // A hash where the counter should be, with an expiry so that the script increments rather than resets it:
      // Redis answers the count with WRONGTYPE.
      await redis.cli('HSET', 'rl:plugin:example:127.0.0.1', 'field', 'value');
      await redis.cli('PEXPIRE', 'rl:plugin:example:127.0.0.1', '60000');

      expect((await request(app).get('/')).status).toBe(200);

      expect((await histogram()).map(point => point.series)).toEqual(['error 1']);
    });
  });
});

describe('the router without an OpenTelemetry SDK', () => {
  let redis: RedisServerHandle;
  let sdk: MetricsSdk | undefined;

  const startBackend = () =>
    startRateLimitBackend(redisRateLimit(redis), { policies: EXAMPLE_POLICIES });

  /** The names of the router's series that the SDK holds. */
  const routerSeries = async () =>
    ((await sdk?.collect()) ?? [])
      .filter(point => point.name.startsWith(METRIC_PREFIX))
      .map(point => `${point.name} ${point.value}`);

  beforeEach(async () => {
    redis = await startRedisServer();
  });

  afterEach(async () => {
    await redis.stop();
    await sdk?.stop();
    sdk = undefined;
  });

  it('starts, serves and records nothing, even for an SDK registered once it runs', async () => {
    const backend = await startBackend();
    try {
      expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
      expect((await request(backend.server).get('/api/example/hello')).status).toBe(401);

      // Registered too late: what the router created at start-up came from OpenTelemetry's no-op meter.
      sdk = startMetricsSdk();
      await redis.kill();
      expect((await request(backend.server).get('/api/example/public/1')).status).toBe(200);
      expect(await routerSeries()).toEqual([]);
    } finally {
      await backend.stop();
    }

    // The same backend started with that SDK registered does record: the check above could see values.
    await redis.restart();
    const recording = await startBackend();
    try {
      await redis.kill();
      await waitUntil('the gauge shows the fallback', async () =>
        (await routerSeries()).includes(`${METRIC_PREFIX}.rate_limit.redis.fallback 1`),
      );
    } finally {
      await recording.stop();
    }
  });
});
