import { rootHttpRouterServiceFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import type { Server } from 'node:http';
import request from 'supertest';
import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import express from 'express';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { METRIC_NAMES } from '../../metrics';
import { createRateLimitMiddleware } from '../../rateLimit/createRateLimitMiddleware';
import { createCountingAuthServices } from '../helpers/countingAuthServices';
import { createExamplePlugin } from '../helpers/createExamplePlugin';
import { createLogCollector } from '../helpers/createLogCollector';
import { describeShared } from '../helpers/describeShared';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import {
  HEALTHY_REDIS_TIMEOUT,
  type RedisServerHandle,
  startRedisServer,
} from '../helpers/redisServer';
import {
  budgetKey,
  startRateLimitBackend,
  TEST_KEY_SECRET,
  type TestBackend,
} from '../helpers/startRateLimitBackend';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

/**
 * The root router of `@backstage/backend-defaults` with our all-plugins limiter where
 * `middleware.rateLimit()` would be, in the same place of the same chain. `onServer` receives the server, which
 * the test backend does not know about when the root router is replaced.
 */
const createRootHttpRouterWithOurLimiter = (onServer: (server: Server) => void) =>
  rootHttpRouterServiceFactory({
    configure({ app, server, config, logger, lifecycle, middleware, routes, healthRouter }) {
      onServer(server);
      const trustProxy = config.getOptional('backend.trustProxy');
      if (trustProxy !== undefined) {
        app.set('trust proxy', trustProxy);
      }
      app.use(middleware.helmet());
      app.use(middleware.cors());
      app.use(middleware.compression());
      app.use(middleware.logging());
      app.use(createRateLimitMiddleware({ config, logger, lifecycle }));
      app.use(healthRouter);
      app.use(routes);
      app.use(middleware.notFound());
      app.use(middleware.error());
    },
  });

async function startBackend(
  backend: JsonObject,
  extraFeatures: Parameters<typeof startTestBackend>[0]['features'] = [],
) {
  return startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      mockServices.rootConfig.factory({ data: { backend } }),
      createExamplePlugin({ pluginId: 'limited' }),
      createExamplePlugin({ pluginId: 'free' }),
      ...(extraFeatures ?? []),
    ],
  });
}

function get(
  server: Server | Awaited<ReturnType<typeof startTestBackend>>['server'],
  path: string,
) {
  return request(server).get(path).set('Authorization', mockCredentials.user.header());
}

describe('rate limiting in a real backend', () => {
  describe('a plugin block', () => {
    let backend: Awaited<ReturnType<typeof startTestBackend>>;

    beforeAll(async () => {
      // Test requests come from 127.0.0.1, which the default allow list lets through.
      backend = await startBackend({
        rateLimit: {
          global: false,
          ipAllowList: [],
          incomingRequestLimit: 2,
          plugin: { limited: {} },
        },
      });
    });

    afterAll(async () => {
      await backend.stop();
    });

    it('limits the plugin it names, with the Backstage error body and the full request URL', async () => {
      expect((await get(backend.server, '/api/limited/hello')).status).toBe(200);
      const second = await get(backend.server, '/api/limited/hello');
      expect(second.status).toBe(200);
      expect(second.headers['ratelimit']).toBe('"plugin-limited"; r=0; t=60');
      const refused = await get(backend.server, '/api/limited/hello');
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('60');
      expect(refused.headers['x-ratelimit-limit']).toBe('2');
      expect(refused.body).toEqual({
        error: {
          name: 'TooManyRequestsError',
          message: expect.stringContaining('Too many requests'),
        },
        request: { method: 'GET', url: '/api/limited/hello' },
        response: { statusCode: 429 },
      });
    });

    it('leaves a plugin without a block alone', async () => {
      for (let i = 0; i < 5; i++) {
        const res = await get(backend.server, '/api/free/hello');
        expect(res.status).toBe(200);
        expect(res.headers['ratelimit']).toBeUndefined();
      }
    });

    it('counts requests that fail authentication too', async () => {
      const res = await request(backend.server).get('/api/limited/hello');
      expect(res.status).toBe(429);
    });
  });

  describe('the all-plugins limiter in a root router built with configure', () => {
    let server: Server;

    beforeAll(async () => {
      // startTestBackend ends by reading its own root router's server, which does not exist once the root
      // router is replaced, and throws after the backend has started. The backend is real and running; the
      // server comes from configure, and backend-test-utils stops the backend after the tests.
      await startBackend(
        {
          listen: { host: '127.0.0.1', port: 0 },
          rateLimit: { ipAllowList: [], incomingRequestLimit: 3 },
        },
        [createRootHttpRouterWithOurLimiter(started => (server = started))],
      ).catch(error => {
        if (!String(error).includes('TestBackend server is not available')) {
          throw error;
        }
      });
    });

    it('shares one budget across plugins and answers 429 through the root error handler', async () => {
      const first = await get(server, '/api/limited/hello');
      expect(first.status).toBe(200);
      expect(first.headers['ratelimit']).toBe('"global"; r=2; t=60');
      expect((await get(server, '/api/free/hello')).status).toBe(200);
      expect((await get(server, '/api/limited/hello')).status).toBe(200);

      const refused = await get(server, '/api/free/hello');
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('60');
      expect(refused.body).toEqual({
        error: {
          name: 'TooManyRequestsError',
          message: expect.stringContaining('Too many requests'),
        },
        request: { method: 'GET', url: '/api/free/hello' },
        response: { statusCode: 429 },
      });
    });
  });

  describe('a proxy on the same host, with the default allow list and trustProxy unset', () => {
    it('lets its clients through uncounted, and says so once, naming backend.trustProxy and the fix', async () => {
      const logs = createLogCollector();
      const backend = await startBackend(
        { rateLimit: { global: false, incomingRequestLimit: 2, plugin: { limited: {} } } },
        [logs.factory],
      );
      try {
        // What nginx on the backend's host sends: its own loopback address, the client in a proxy header.
        const statuses = [];
        for (let i = 0; i < 5; i++) {
          const header = i % 2 === 0 ? 'X-Forwarded-For' : 'Forwarded';
          const value = i % 2 === 0 ? '203.0.113.7' : 'for=203.0.113.7';
          const res = await get(backend.server, '/api/limited/hello').set(header, value);
          statuses.push(res.status);
          expect(res.headers['ratelimit']).toBeUndefined();
        }
        expect(statuses).toEqual([200, 200, 200, 200, 200]);
        const warnings = logs
          .messages('warn')
          .filter(message => message.includes('X-Forwarded-For'));
        expect(warnings).toEqual([
          expect.stringMatching(/127\.0\.0\.1.*ipAllowList.*backend\.trustProxy.*'loopback'/),
        ]);
      } finally {
        await backend.stop();
      }
    });

    it('stays quiet once backend.trustProxy lets express see the client, and limits it', async () => {
      const logs = createLogCollector();
      let server: Server | undefined;
      // The root router of backend-defaults, which applies backend.trustProxy (see the all-plugins test above).
      await startBackend(
        {
          listen: { host: '127.0.0.1', port: 0 },
          trustProxy: 'loopback',
          rateLimit: { global: false, incomingRequestLimit: 2, plugin: { limited: {} } },
        },
        [createRootHttpRouterWithOurLimiter(started => (server = started)), logs.factory],
      ).catch(error => {
        if (!String(error).includes('TestBackend server is not available')) {
          throw error;
        }
      });
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await get(server!, '/api/limited/hello').set('X-Forwarded-For', '203.0.113.7');
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect(logs.messages('warn').filter(message => message.includes('Forwarded'))).toEqual([]);
    });
  });
});

const ALICE = mockCredentials.user.header('user:default/alice');
const BOB = mockCredentials.user.header('user:default/bob');

/** The example plugin alone, counted per address from 127.0.0.1, with `block` as its rate-limit block. */
const pluginBlock = (block: JsonObject): JsonObject => ({
  global: false,
  ipAllowList: [],
  plugin: { example: block },
});

async function send(
  backend: TestBackend,
  method: 'get' | 'post' | 'put' | 'head',
  path: string,
  authorization?: string,
) {
  const req = request(backend.server)[method](`/api/example${path}`);
  return authorization === undefined ? req : req.set('Authorization', authorization);
}

async function statuses(
  backend: TestBackend,
  method: 'get' | 'post' | 'put' | 'head',
  path: string,
  authorization: string | undefined,
  n: number,
) {
  const result: number[] = [];
  for (let i = 0; i < n; i++)
    result.push((await send(backend, method, path, authorization)).status);
  return result;
}

describe('budgets per route, in a real backend', () => {
  const backends: TestBackend[] = [];
  const start = async (rateLimit: JsonObject) => {
    const backend = await startRateLimitBackend(rateLimit);
    backends.push(backend);
    return backend;
  };

  afterEach(async () => {
    await Promise.all(backends.splice(0).map(backend => backend.stop()));
  });

  it("refuses a user's third POST to a route with a budget of 2, while their GETs and another user go on", async () => {
    const backend = await start(
      pluginBlock({
        routes: [{ name: 'echo', path: '/echo', method: 'post', userRequestLimit: 2 }],
      }),
    );
    expect(await statuses(backend, 'post', '/echo', ALICE, 2)).toEqual([200, 200]);
    const refused = await send(backend, 'post', '/echo', ALICE);
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-echo-user"; q=2; w=60');
    expect(refused.body.error.message).toMatch(
      /the user limit of route 'echo' is 2 per 60 seconds/,
    );
    expect(await statuses(backend, 'get', '/hello', ALICE, 3)).toEqual([200, 200, 200]);
    expect(await statuses(backend, 'post', '/echo', BOB, 3)).toEqual([200, 200, 429]);
  });

  it('counts a path in another case in the rule too, as the router routes it there', async () => {
    const backend = await start(
      pluginBlock({
        routes: [{ name: 'echo', path: '/echo', method: 'post', userRequestLimit: 2 }],
      }),
    );
    expect((await send(backend, 'post', '/echo', ALICE)).status).toBe(200);
    expect((await send(backend, 'post', '/ECHO', ALICE)).status).toBe(200);
    const refused = await send(backend, 'post', '/Echo', ALICE);
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-echo-user"; q=2; w=60');
  });

  it('counts a request in its plugin budget too, and the first budget spent answers', async () => {
    const backend = await start(
      pluginBlock({
        incomingRequestLimit: 3,
        routes: [{ name: 'echo', path: '/echo', incomingRequestLimit: 10 }],
      }),
    );
    expect(await statuses(backend, 'post', '/echo', undefined, 2)).toEqual([401, 401]);
    const other = await send(backend, 'get', '/public/1');
    expect(other.headers['ratelimit-policy']).not.toContain('plugin-example-echo');
    const refused = await send(backend, 'post', '/echo');
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toMatch(/^"plugin-example"; q=3;/);
  });

  it('matches a placeholder path per address, for every value of the placeholder and no other path', async () => {
    const backend = await start(
      pluginBlock({ routes: [{ path: '/public/:id', incomingRequestLimit: 2 }] }),
    );
    expect((await send(backend, 'get', '/public/1')).status).toBe(401);
    expect((await send(backend, 'get', '/public/2')).status).toBe(401);
    const refused = await send(backend, 'get', '/public/3');
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-route-0"; q=2;');
    expect((await send(backend, 'get', '/public')).status).toBe(401);
    expect((await send(backend, 'get', '/public-other/1')).status).toBe(401);
  });

  it('counts only the methods a rule lists, in any case, and HEAD with GET', async () => {
    const backend = await start(
      pluginBlock({
        routes: [{ path: '/hello', method: ['get', 'Post'], incomingRequestLimit: 3 }],
      }),
    );
    expect(await statuses(backend, 'put', '/hello', undefined, 4)).toEqual([401, 401, 401, 401]);
    expect((await send(backend, 'post', '/hello')).status).toBe(401);
    expect((await send(backend, 'head', '/hello')).status).toBe(401);
    expect(await statuses(backend, 'get', '/hello', undefined, 2)).toEqual([401, 429]);
  });

  it('counts a request in every rule it matches', async () => {
    const backend = await start(
      pluginBlock({
        routes: [
          { name: 'writes', path: '/', method: 'POST', incomingRequestLimit: 3 },
          { name: 'echo', path: '/echo', incomingRequestLimit: 5 },
        ],
      }),
    );
    expect(await statuses(backend, 'post', '/echo', undefined, 3)).toEqual([401, 401, 401]);
    const refused = await send(backend, 'post', '/echo');
    expect(refused.headers['ratelimit-policy']).toContain('"plugin-example-writes"; q=3;');
    expect(await statuses(backend, 'get', '/echo', undefined, 3)).toEqual([401, 401, 429]);
  });

  it('takes what a rule leaves out from its plugin block', async () => {
    const backend = await start(
      pluginBlock({
        window: '2m',
        incomingRequestLimit: 5,
        routes: [{ path: '/echo', userRequestLimit: 1 }],
      }),
    );
    const anonymous = await send(backend, 'post', '/echo');
    expect(anonymous.headers['ratelimit-policy']).toContain(
      '"plugin-example-route-0-address"; q=5; w=120',
    );
    expect((await send(backend, 'post', '/echo', ALICE)).status).toBe(200);
    const refused = await send(backend, 'post', '/echo', ALICE);
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toContain(
      '"plugin-example-route-0-user"; q=1; w=120',
    );
  });

  it("records a rule's decisions under its own limiter name", async () => {
    const sdk = startMetricsSdk();
    try {
      const backend = await start(
        pluginBlock({ routes: [{ name: 'echo', path: '/echo', incomingRequestLimit: 1 }] }),
      );
      await statuses(backend, 'post', '/echo', undefined, 2);
      const decisions = (await sdk.collect())
        .filter(point => point.attributes.limiter === 'plugin-example-echo')
        .map(point => `${point.attributes.outcome} ${point.value}`);
      expect(decisions.sort()).toEqual(['allowed 1', 'limited 1']);
    } finally {
      await sdk.stop();
    }
  });
});

describe('budgets per route in Redis, shared between backend instances', () => {
  let redis: RedisServerHandle;
  const backends: TestBackend[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await Promise.all(backends.map(backend => backend.stop()));
    await redis.stop();
  });

  it("gives a user one route budget across two instances, under the rule's own keys", async () => {
    const rateLimit = {
      ...pluginBlock({
        store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
        routes: [{ name: 'echo', path: '/echo', method: 'POST', userRequestLimit: 2 }],
      }),
      keySecret: TEST_KEY_SECRET,
    };
    const [first, second] = [
      await startRateLimitBackend(rateLimit),
      await startRateLimitBackend(rateLimit),
    ];
    backends.push(first, second);
    expect((await send(first, 'post', '/echo', ALICE)).status).toBe(200);
    expect((await send(second, 'post', '/echo', ALICE)).status).toBe(200);
    expect((await send(first, 'post', '/echo', ALICE)).status).toBe(429);
    expect((await send(second, 'post', '/echo', BOB)).status).toBe(200);
    const keys = (await redis.cli('KEYS', 'rl:plugin:example:route:echo:*')).split('\n').sort();
    expect(keys).toEqual(
      [
        budgetKey('rl:plugin:example:route:echo:user:', 'user:default/alice'),
        budgetKey('rl:plugin:example:route:echo:user:', 'user:default/bob'),
      ].sort(),
    );
  });
});

describe('dryRun', () => {
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
    [
      'redis',
      (): JsonObject => ({ type: 'redis', connection: redis.url, timeout: { seconds: 2 } }),
    ],
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
        expect(warnings).toEqual([
          expect.stringMatching(/would have refused a request \(dryRun\)/),
        ]);
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
});

describe('limits changed while a backend runs', () => {
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
    [
      'redis',
      (): JsonObject => ({ type: 'redis', connection: redis.url, timeout: { seconds: 2 } }),
    ],
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
});

/** Longer than the longest delay a Node.js timer accepts (2^31-1 ms, about 24.8 days). */
const TOO_LONG = '30d';

/** Starts a real backend with the example plugin and the given `backend` config, and returns what it threw. */
async function startupError(backend: JsonObject): Promise<unknown> {
  const started = await startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      createExamplePlugin(),
      mockServices.rootConfig.factory({ data: { backend } }),
    ],
  }).then(
    async running => {
      await running.stop();
      return undefined;
    },
    (error: unknown) => error,
  );
  if (started === undefined) {
    throw new Error('expected the backend to refuse to start');
  }
  return started;
}

/**
 * What a backend that refused to start says about `key`. Backstage reports a plugin's start-up failure as one
 * `BackendStartupError` whose message quotes ours (the error itself, with its code, is not kept as a cause).
 */
const refusal = (key: string) =>
  `HttpRouterConfigError: Invalid config at '${key}': expected at most 2147483647 ms (about 24 days)`;

// Past 2^31-1 ms Node.js fires a timer after 1 ms, so these durations must stop the start-up.
describe('duration keys too long for a timer, in a real backend', () => {
  let redis: RedisServerHandle | undefined;

  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  it('refuses backend.lifecycle.startupRequestPauseTimeout: 30d, which would answer 503 after 1 ms', async () => {
    const error = await startupError({ lifecycle: { startupRequestPauseTimeout: TOO_LONG } });

    expect(String(error)).toContain(refusal('backend.lifecycle.startupRequestPauseTimeout'));
  });

  it('refuses backend.rateLimit.store.timeout: 30d, which would time out every count against a healthy Redis', async () => {
    redis = await startRedisServer();
    const error = await startupError({
      rateLimit: {
        global: false,
        store: { type: 'redis', connection: redis.url, timeout: TOO_LONG },
        plugin: { example: {} },
      },
    });

    expect(String(error)).toContain(refusal('backend.rateLimit.store.timeout'));
  });

  it('refuses backend.rateLimit.plugin.<pluginId>.store.timeout: 30d, naming the plugin block', async () => {
    redis = await startRedisServer();
    const error = await startupError({
      rateLimit: {
        global: false,
        plugin: {
          example: { store: { type: 'redis', connection: redis.url, timeout: { days: 30 } } },
        },
      },
    });

    expect(String(error)).toContain(refusal('backend.rateLimit.plugin.example.store.timeout'));
  });

  it('refuses backend.rateLimit.window: 30d with the memory store, whose sweeper is a timer', async () => {
    const error = await startupError({
      rateLimit: { global: false, window: TOO_LONG, plugin: { example: {} } },
    });

    expect(String(error)).toContain(refusal('backend.rateLimit.window'));
  });
});

describe('a backend with rate limiting', () => {
  it('adds no property to express.request, express.response or Node’s HTTP prototypes', async () => {
    const before = describeShared();
    const backend = await startRateLimitBackend({
      ipAllowList: [],
      incomingRequestLimit: 2,
      plugin: { example: {} },
    });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await request(backend.server)
          .get('/api/example/hello')
          .set('Authorization', mockCredentials.user.header());
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await backend.stop();
    }
    expect(describeShared()).toEqual(before);

    // The symptom users would see: a request of an unrelated app, never counted, has no rateLimit.
    const unrelated = express().get('/', (req, res) => {
      res.json({ rateLimit: 'rateLimit' in req });
    });
    expect((await request(unrelated).get('/')).body).toEqual({ rateLimit: false });
  });
});
