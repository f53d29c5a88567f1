import {
  rootHttpRouterServiceFactory as upstreamRootHttpRouterServiceFactory,
  type RootHttpRouterFactoryOptions,
} from '@backstage/backend-defaults/rootHttpRouter';
import type { RootHttpRouterService, ServiceFactory } from '@backstage/backend-plugin-api';
import type { JsonObject } from '@backstage/types';
import type { Server } from 'node:http';
import { ERROR_CODES } from '../../errors';
import {
  rootHttpRouterServiceFactory,
  withOurRateLimit,
} from '../../httpRouter/rootHttpRouterServiceFactory';
import {
  answer,
  type RootRouterBackend,
  startRootRouterBackend,
} from '../helpers/startRootRouterBackend';

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
