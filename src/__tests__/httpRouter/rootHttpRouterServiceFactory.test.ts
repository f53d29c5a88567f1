import {
  rootHttpRouterServiceFactory as upstreamRootHttpRouterServiceFactory,
  type RootHttpRouterFactoryOptions,
} from '@backstage/backend-defaults/rootHttpRouter';
import type { RootHttpRouterService, ServiceFactory } from '@backstage/backend-plugin-api';
import type { JsonObject } from '@backstage/types';
import type { Server } from 'node:http';
import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import { httpRouterServiceFactory as upstreamHttpRouterServiceFactory } from '@backstage/backend-defaults/httpRouter';
import request from 'supertest';
import { ERROR_CODES } from '../../errors';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import {
  rootHttpRouterServiceFactory,
  withOurRateLimit,
} from '../../httpRouter/rootHttpRouterServiceFactory';
import { METRIC_NAMES } from '../../metrics';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { freePort } from '../helpers/freePort';
import { type MetricsSdk, startMetricsSdk } from '../helpers/metricsSdk';
import {
  OUTAGE_TIMEOUT_MS,
  type RedisServerHandle,
  startRedisServer,
} from '../helpers/redisServer';
import { budgetKey, TEST_KEY_SECRET } from '../helpers/startRateLimitBackend';
import {
  answer,
  type RootRouterBackend,
  startRootRouterBackend,
} from '../helpers/startRootRouterBackend';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

type RootFactory = ((
  options?: RootHttpRouterFactoryOptions,
) => ServiceFactory<RootHttpRouterService, 'root', 'singleton'>) &
  ServiceFactory<RootHttpRouterService, 'root', 'singleton'>;

const FACTORIES: Array<[string, RootFactory]> = [
  ['upstream', upstreamRootHttpRouterServiceFactory],
  ['ours', rootHttpRouterServiceFactory],
];

/** Every `backend.server.*` key that `applyDefaults()` reads, each in another of the accepted forms. */
const SERVER_CONFIG = {
  headersTimeout: '21s',
  requestTimeout: 31000,
  keepAliveTimeout: { seconds: 7 },
  timeout: 'PT41S',
  maxHeadersCount: 50,
  maxRequestsPerSocket: 100,
};

const BACKEND_CONFIG: JsonObject = {
  server: SERVER_CONFIG,
  cors: { origin: 'http://allowed.example', methods: ['GET', 'POST'], credentials: true },
  csp: { 'connect-src': ["'self'", 'http:', 'https:'] },
  // Both limiters are built, and both let the loopback test client through their default allow lists.
  rateLimit: { incomingRequestLimit: 100 },
};

const ORIGIN = { Origin: 'http://allowed.example' };

/** Requests that reach each default of the root router: helmet, CORS, compression, health, 404, errors. */
const REQUESTS: Array<[string, string, Record<string, string>]> = [
  ['GET', '/api/example/hello', {}],
  ['GET', '/api/example/big', { 'Accept-Encoding': 'gzip' }],
  ['GET', '/api/example/hello', ORIGIN],
  ['OPTIONS', '/api/example/hello', { ...ORIGIN, 'Access-Control-Request-Method': 'POST' }],
  ['GET', '/api/example/missing', {}],
  ['GET', '/api/example/boom', {}],
  ['GET', '/api/unknown/thing', {}],
  ['GET', '/not-a-route', {}],
  ['GET', '/root-refused', {}],
  ['GET', '/.backstage/health/v1/readiness', {}],
  ['GET', '/.backstage/health/v1/liveness', {}],
];

describe('rootHttpRouterServiceFactory against upstream', () => {
  const backends = new Map<string, RootRouterBackend>();
  const servers = new Map<string, Server>();

  beforeAll(async () => {
    for (const [name, factory] of FACTORIES) {
      const configured = factory({
        configure({ server, applyDefaults }) {
          servers.set(name, server);
          applyDefaults();
        },
      });
      backends.set(name, await startRootRouterBackend(configured, BACKEND_CONFIG));
    }
  });

  afterAll(async () => {
    await Promise.all([...backends.values()].map(backend => backend.stop()));
  });

  it.each(REQUESTS)('answers %s %s alike', async (method, path, headers) => {
    const [upstream, ours] = await Promise.all(
      FACTORIES.map(([name]) => answer(backends.get(name)!.baseUrl, method, path, headers)),
    );
    expect(ours).toEqual(upstream);
  });

  it('applies the defaults that the comparison relies on', async () => {
    const { baseUrl } = backends.get('ours')!;
    const big = await answer(baseUrl, 'GET', '/api/example/big', { 'Accept-Encoding': 'gzip' });
    expect(big.headers['content-encoding']).toBe('gzip');
    expect(big.headers['content-security-policy']).toContain('connect-src');
    const cors = await answer(baseUrl, 'GET', '/api/example/hello', ORIGIN);
    expect(cors.headers['access-control-allow-origin']).toBe('http://allowed.example');
    expect(cors.headers['keep-alive']).toBe('timeout=7, max=100');
    expect((await answer(baseUrl, 'GET', '/.backstage/health/v1/readiness')).status).toBe(200);
    const refused = await answer(baseUrl, 'GET', '/root-refused');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({
      error: { name: 'NotAllowedError', message: 'Not at the root' },
      response: { statusCode: 403 },
    });
    expect(big.headers['ratelimit']).toBeUndefined();
  });

  it('applies the backend.server settings to the HTTP server, as upstream does', () => {
    const settings = (server: Server | undefined) => ({
      headersTimeout: server?.headersTimeout,
      requestTimeout: server?.requestTimeout,
      keepAliveTimeout: server?.keepAliveTimeout,
      timeout: server?.timeout,
      maxHeadersCount: server?.maxHeadersCount,
      maxRequestsPerSocket: server?.maxRequestsPerSocket,
    });
    expect(settings(servers.get('ours'))).toEqual({
      headersTimeout: 21_000,
      requestTimeout: 31_000,
      keepAliveTimeout: 7_000,
      timeout: 41_000,
      maxHeadersCount: 50,
      maxRequestsPerSocket: 100,
    });
    expect(settings(servers.get('ours'))).toEqual(settings(servers.get('upstream')));
  });
});

describe('the all-plugins limiter of rootHttpRouterServiceFactory', () => {
  let upstream: RootRouterBackend;
  let ours: RootRouterBackend;

  beforeAll(async () => {
    // Loopback is on both default allow lists; an empty list makes the test client count.
    const config = { rateLimit: { ipAllowList: [] } };
    upstream = await startRootRouterBackend(upstreamRootHttpRouterServiceFactory, config);
    ours = await startRootRouterBackend(rootHttpRouterServiceFactory, config);
  });

  afterAll(async () => {
    await Promise.all([upstream.stop(), ours.stop()]);
  });

  it("is ours, with our defaults, where upstream's refuses the sixth request of a minute", async () => {
    const statuses = { upstream: [] as number[], ours: [] as number[] };
    for (let i = 0; i < 6; i++) {
      statuses.upstream.push((await answer(upstream.baseUrl, 'GET', '/api/example/hello')).status);
      const res = await answer(ours.baseUrl, 'GET', '/api/example/hello');
      statuses.ours.push(res.status);
      expect(res.headers['ratelimit-policy']).toMatch(/^"global"; q=1000; w=60;/);
    }
    expect(statuses).toEqual({
      upstream: [200, 200, 200, 200, 200, 429],
      ours: Array(6).fill(200),
    });
  });
});

describe('rootHttpRouterServiceFactory with a configure of your own', () => {
  it('gives middleware.rateLimit() our limiter and passes indexPath on', async () => {
    const backend = await startRootRouterBackend(
      rootHttpRouterServiceFactory({
        indexPath: '/api/example',
        configure({ app, middleware, routes }) {
          app.use(middleware.rateLimit());
          app.use(routes);
          app.use(middleware.error());
        },
      }),
      { rateLimit: { ipAllowList: [], incomingRequestLimit: 2 } },
    );
    try {
      // Not under /api/<pluginId>: the index path's plugin answers it.
      const first = await answer(backend.baseUrl, 'GET', '/hello');
      expect(first.status).toBe(200);
      expect(JSON.parse(first.body)).toEqual({ hello: 'world' });
      expect(first.headers['ratelimit']).toBe('"global"; r=1; t=60');
      await answer(backend.baseUrl, 'GET', '/api/example/hello');
      const refused = await answer(backend.baseUrl, 'GET', '/api/example/hello');
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { name: 'TooManyRequestsError' } });
    } finally {
      await backend.stop();
    }
  });

  it('stops the backend when applyDefaults() puts no limiter of ours in place', async () => {
    // What a later @backstage/backend-defaults would do if its defaults stopped calling middleware.rateLimit().
    const withoutRateLimitCall = upstreamRootHttpRouterServiceFactory({
      configure(context) {
        withOurRateLimit({
          ...context,
          applyDefaults: () => context.app.use(context.routes),
        }).applyDefaults();
      },
    });
    await expect(
      startRootRouterBackend(withoutRateLimitCall, { rateLimit: { incomingRequestLimit: 5 } }),
    ).rejects.toMatchObject({ code: ERROR_CODES.rootRateLimitNotApplied });
  });
});

describe('rootHttpRouterServiceFactory with a Redis store', () => {
  let redis: RedisServerHandle;
  let backend: RootRouterBackend;
  let sdk: MetricsSdk;

  /** How many counts waited for Redis and got no answer, by why (`timeout`, `error`). */
  const failedWaits = async () => {
    const counts: Record<string, number> = {};
    for (const point of await sdk.collect()) {
      const failure = point.attributes['error.type'];
      if (point.name === METRIC_NAMES.rateLimitStoreDuration && failure !== undefined) {
        counts[String(failure)] = (counts[String(failure)] ?? 0) + (point.count ?? 0);
      }
    }
    return counts;
  };

  beforeAll(async () => {
    sdk = startMetricsSdk();
    redis = await startRedisServer();
    backend = await startRootRouterBackend(rootHttpRouterServiceFactory, {
      rateLimit: {
        ipAllowList: [],
        store: { type: 'redis', connection: redis.url, timeout: `${OUTAGE_TIMEOUT_MS}ms` },
        keySecret: TEST_KEY_SECRET,
      },
    });
  });

  afterAll(async () => {
    await backend.stop();
    await redis.stop();
    await sdk.stop();
  });

  /** Every request is answered (a hung one would fail on jest's timeout), counted in memory meanwhile. */
  async function expectAnswers() {
    const answers = [
      await answer(backend.baseUrl, 'GET', '/api/example/hello'),
      ...(await Promise.all(
        Array.from({ length: 5 }, () => answer(backend.baseUrl, 'GET', '/api/example/hello')),
      )),
      await answer(backend.baseUrl, 'GET', '/.backstage/health/v1/readiness'),
    ];
    expect(answers.map(res => res.status)).toEqual(Array(7).fill(200));
    expect(answers[0].headers['ratelimit-policy']).toMatch(/^"global"; q=1000; w=60;/);
  }

  it('counts every client in Redis under our all-plugins key', async () => {
    await answer(backend.baseUrl, 'GET', '/api/example/hello');
    await answer(backend.baseUrl, 'GET', '/api/example/hello');
    expect(Number(await redis.cli('GET', budgetKey('rl:global:', '127.0.0.1')))).toBe(2);
  });

  it('answers while Redis is frozen (SIGSTOP), one count waiting out store.timeout and none after it', async () => {
    redis.pause();
    try {
      await expectAnswers();
      expect(await failedWaits()).toEqual({ timeout: 1 });
    } finally {
      redis.resume();
    }
  });

  it('answers once Redis is killed, without waiting for it', async () => {
    await redis.kill();
    await expectAnswers();
    // At most one count saw the connection fail; the breaker answered every other one at once.
    const after = await failedWaits();
    expect(after.timeout).toBe(1);
    expect(after.error ?? 0).toBeLessThanOrEqual(1);
  });
});

describe('rootHttpRouterServiceFactory with a comma-separated Redis Cluster URL', () => {
  it("starts and serves where upstream's factory stops the backend with 'Invalid URL'", async () => {
    // Nothing listens on these ports: our store starts while Redis is unreachable and counts in memory.
    const connection = `redis://127.0.0.1:${await freePort()},redis://127.0.0.1:${await freePort()}`;
    const config = { rateLimit: { ipAllowList: [], store: { type: 'redis', connection } } };
    await expect(
      startRootRouterBackend(upstreamRootHttpRouterServiceFactory, config),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_URL' });

    const ours = await startRootRouterBackend(rootHttpRouterServiceFactory, config);
    try {
      const res = await answer(ours.baseUrl, 'GET', '/api/example/hello');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-policy']).toMatch(/^"global"; q=1000; w=60;/);
    } finally {
      await ours.stop();
    }
  });
});

const COOKIE = { cookie: `backstage-auth=${mockCredentials.user.token()}` };

/** The `RateLimit` header of each of three requests to `path`, through a root router whose index is the plugin. */
async function remaining(rateLimit: JsonObject, path: string, headers: Record<string, string>) {
  const backend = await startRootRouterBackend(
    rootHttpRouterServiceFactory({ indexPath: '/api/example' }),
    { rateLimit },
  );
  try {
    const seen = [];
    for (let i = 0; i < 3; i++) {
      seen.push((await fetch(`${backend.baseUrl}${path}`, { headers })).headers.get('ratelimit'));
    }
    return seen;
  } finally {
    await backend.stop();
  }
}

describe("requests served through the root router's index path", () => {
  it('are counted once in the all-plugins budgets, with or without credentials', async () => {
    const rateLimit = { ipAllowList: [], incomingRequestLimit: 4, userRequestLimit: 5 };
    const expected = ['"global"; r=3; t=60', '"global"; r=2; t=60', '"global"; r=1; t=60'];
    expect(await remaining(rateLimit, '/hello', COOKIE)).toEqual(expected);
    expect(await remaining(rateLimit, '/hello', {})).toEqual(expected);
  });

  it("are counted once in the plugin's budgets and once in the all-plugins ones", async () => {
    const rateLimit = { ipAllowList: [], incomingRequestLimit: 4, plugin: { example: {} } };
    expect(await remaining(rateLimit, '/hello', COOKIE)).toEqual(
      [1, 2, 3].map(
        spent => `"global"; r=${4 - spent}; t=60, "plugin-example"; r=${4 - spent}; t=60`,
      ),
    );
  });
});

describe('behaviour compared with upstream', () => {
  /**
   * The same requests against a backend with upstream's httpRouter factory and one with ours must answer with the
   * same status and body shape. Deliberate differences are not in this list; they are tested where they live and
   * listed in the README under "Differences from upstream":
   * - the 503 answers of the lifecycle gate carry `Retry-After` (createLifecycleMiddleware.test.ts);
   * - policy paths in express 4 syntax are accepted instead of failing the plugin (authPolicy tests);
   * - an invalid policy throws an error naming the plugin, path and allowed values (middleware/credentials.test.ts);
   * - policies match case-sensitively: `/public` does not open `/PUBLIC/1` (httpRouterServiceFactory.test.ts);
   * - a path with dot segments or encoded slashes is opened only if the path it resolves to is too:
   *   `/public/../hello` needs credentials (httpRouterServiceFactory.test.ts).
   */
  const REQUESTS: Array<{
    method: 'get' | 'delete' | 'post' | 'head';
    path: string;
    headers?: Record<string, string>;
  }> = [
    { method: 'get', path: '/api/example/hello' },
    {
      method: 'get',
      path: '/api/example/hello',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'get',
      path: '/api/example/hello',
      headers: { Authorization: mockCredentials.service.header() },
    },
    {
      method: 'get',
      path: '/api/example/hello',
      headers: { Authorization: mockCredentials.user.invalidHeader() },
    },
    {
      method: 'get',
      path: '/api/example/hello',
      headers: { Cookie: mockCredentials.limitedUser.cookie() },
    },
    {
      method: 'get',
      path: '/api/example/HELLO',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'get',
      path: '/api/example/hello/',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'get',
      path: '/api/example/hello?x=1',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'post',
      path: '/api/example/hello',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'get',
      path: '/api/example/cookie-ok',
      headers: { Cookie: mockCredentials.limitedUser.cookie() },
    },
    { method: 'get', path: '/api/example/cookie-ok' },
    { method: 'get', path: '/api/example/public/42' },
    { method: 'get', path: '/api/example/public' },
    { method: 'get', path: '/api/example/publicity' },
    {
      method: 'get',
      path: '/api/example/missing',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'get',
      path: '/api/example/boom',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'get',
      path: '/api/example/nowhere',
      headers: { Authorization: mockCredentials.user.header() },
    },
    { method: 'get', path: '/api/example/nowhere' },
    { method: 'get', path: '/api/example/.backstage/auth/v1/jwks.json' },
    { method: 'get', path: '/api/example/.BACKSTAGE/Auth/v1/JWKS.json/' },
    { method: 'get', path: '/api/example/.backstage/auth/v1/jwks.json?x=1' },
    { method: 'head', path: '/api/example/.backstage/auth/v1/jwks.json' },
    { method: 'post', path: '/api/example/.backstage/auth/v1/jwks.json' },
    { method: 'get', path: '/api/example/.backstage/auth/v1/jwks.jsonx' },
    { method: 'get', path: '/api/example/.backstage/auth/v1' },
    { method: 'get', path: '/api/example/.backstage/auth/v1/cookie' },
    {
      method: 'get',
      path: '/api/example/.backstage/auth/v1/cookie',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'delete',
      path: '/api/example/.backstage/auth/v1/cookie',
      headers: { Authorization: mockCredentials.user.header() },
    },
    {
      method: 'get',
      path: '/api/example/.Backstage/AUTH/v1/Cookie/',
      headers: { Authorization: mockCredentials.user.header() },
    },
    { method: 'delete', path: '/api/example/.backstage/auth/v1/cookie' },
    {
      method: 'post',
      path: '/api/example/.backstage/auth/v1/cookie',
      headers: { Authorization: mockCredentials.user.header() },
    },
  ];

  /** Replaces every leaf value by its type, so that two bodies compare by shape. */
  function shapeOf(value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map(shapeOf);
    }
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
    }
    return typeof value;
  }

  async function answersOf(
    factory: typeof httpRouterServiceFactory | typeof upstreamHttpRouterServiceFactory,
  ) {
    const backend = await startTestBackend({
      features: [
        factory,
        ...TEST_AUTH_SERVICES,
        createExamplePlugin({ policies: EXAMPLE_POLICIES }),
      ],
    });
    try {
      const answers = [];
      for (const { method, path, headers = {} } of REQUESTS) {
        const res = await request(backend.server)[method](path).set(headers);
        answers.push({
          request: `${method.toUpperCase()} ${path} ${Object.keys(headers).join(',')}`,
          status: res.status,
          body: shapeOf(res.body),
          errorName: res.body?.error?.name,
        });
      }
      return answers;
    } finally {
      await backend.stop();
    }
  }

  it('answers every request with the same status and body shape as upstream', async () => {
    const upstream = await answersOf(upstreamHttpRouterServiceFactory);
    const ours = await answersOf(httpRouterServiceFactory);
    expect(ours).toEqual(upstream);
    expect(new Set(ours.map(answer => answer.status))).toEqual(new Set([200, 204, 401, 404, 500]));
  });
});
