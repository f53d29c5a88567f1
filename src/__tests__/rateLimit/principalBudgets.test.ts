import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { rootHttpRouterServiceFactory } from '../../httpRouter/rootHttpRouterServiceFactory';
import { createCountingAuthServices } from '../helpers/countingAuthServices';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { createLogCollector } from '../helpers/createLogCollector';
import {
  type RedisServerHandle,
  startRedisServer,
  HEALTHY_REDIS_TIMEOUT,
  OUTAGE_TIMEOUT_MS,
} from '../helpers/redisServer';
import { createTestRedisStore } from '../helpers/redisStores';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';
import { startRootRouterBackend, type RootRouterBackend } from '../helpers/startRootRouterBackend';
import { TEST_PUBLIC_KEY } from '../helpers/testAuthServices';

type Backend = Awaited<ReturnType<typeof startTestBackend>>;

const ALICE = mockCredentials.user.header('user:default/alice');
const BOB = mockCredentials.user.header('user:default/bob');
const SERVICE = mockCredentials.service.header();
const INVALID = mockCredentials.user.invalidHeader();

async function startBackend(rateLimit: JsonObject) {
  const auth = createCountingAuthServices();
  const logger = mockServices.logger.mock();
  const backend = await startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...auth.features,
      mockServices.rootLogger.factory(),
      mockServices.rootConfig.factory({ data: { backend: { rateLimit } } }),
      createExamplePlugin({ pluginId: 'example', policies: EXAMPLE_POLICIES }),
      createExamplePlugin({ pluginId: 'other' }),
    ],
  });
  return { backend, verifications: auth.verifications, logger };
}

function get(backend: Backend, path: string, authorization?: string) {
  const req = request(backend.server).get(path);
  return authorization === undefined ? req : req.set('Authorization', authorization);
}

async function statuses(
  backend: Backend,
  path: string,
  authorization: string | undefined,
  n: number,
) {
  const result: number[] = [];
  for (let i = 0; i < n; i++) {
    result.push((await get(backend, path, authorization)).status);
  }
  return result;
}

describe('rate limits per verified principal, in a real backend', () => {
  describe('user, service and anonymous budgets of a plugin', () => {
    let started: Awaited<ReturnType<typeof startBackend>>;

    beforeAll(async () => {
      // Every request comes from 127.0.0.1: one address for all users, as behind a NAT.
      started = await startBackend({
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 2,
        userRequestLimit: 3,
        serviceRequestLimit: 4,
        plugin: { example: {} },
      });
    });

    afterAll(async () => {
      await started.backend.stop();
    });

    it('names the bucket in the headers and the spent budget in the body, never whose', async () => {
      const { backend } = started;
      const ok = await get(
        backend,
        '/api/example/hello',
        mockCredentials.user.header('user:default/carol'),
      );
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-policy']).toMatch(/^"plugin-example-user"; q=3; w=60/);
      expect(ok.headers.ratelimit).toMatch(/^"plugin-example-user"; r=2; t=\d+/);
      await statuses(
        backend,
        '/api/example/hello',
        mockCredentials.user.header('user:default/carol'),
        2,
      );
      const limited = await get(
        backend,
        '/api/example/hello',
        mockCredentials.user.header('user:default/carol'),
      );
      expect(limited.status).toBe(429);
      expect(limited.body.error).toEqual({
        name: 'TooManyRequestsError',
        message: expect.stringMatching(
          /^Too many requests: the user limit is 3 per 60 seconds; try again in \d+ seconds$/,
        ),
      });
      expect(JSON.stringify(limited.body)).not.toContain('carol');
      const anonymous = await get(backend, '/api/example/public/2');
      expect(anonymous.headers['ratelimit-policy']).toMatch(/^"plugin-example-address"; q=2;/);
    });

    it('verifies each request once: the barrier reuses the verification of the limiter', async () => {
      const { backend, verifications } = started;
      const before = verifications.count;
      expect(
        (await get(backend, '/api/example/hello', mockCredentials.user.header('user:default/dan')))
          .status,
      ).toBe(200);
      expect(verifications.count - before).toBe(1);
    });

    it('gives two users from one address their full budget each, apart from the address budget', async () => {
      const { backend } = started;
      expect(await statuses(backend, '/api/example/hello', ALICE, 4)).toEqual([200, 200, 200, 429]);
      expect(await statuses(backend, '/api/example/hello', BOB, 4)).toEqual([200, 200, 200, 429]);
      expect(await statuses(backend, '/api/example/hello', SERVICE, 5)).toEqual([
        200, 200, 200, 200, 429,
      ]);
      // The address budget: public/2 of the test above spent one of its two requests.
      expect(await statuses(backend, '/api/example/public/1', undefined, 2)).toEqual([200, 429]);
    });

    it('leaves plugins without a block unlimited, as before', async () => {
      const { backend } = started;
      expect(await statuses(backend, '/api/other/hello', ALICE, 5)).toEqual([
        200, 200, 200, 200, 200,
      ]);
    });
  });

  describe('a service budget that is unlimited, and bad credentials', () => {
    let started: Awaited<ReturnType<typeof startBackend>>;

    beforeAll(async () => {
      started = await startBackend({
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 5,
        userRequestLimit: 2,
        serviceRequestLimit: 'unlimited',
        failedAuthenticationLimit: 2,
        plugin: { example: {} },
      });
    });

    afterAll(async () => {
      await started.backend.stop();
    });

    it('never counts an unlimited service, and a user spending theirs does not touch it', async () => {
      const { backend } = started;
      expect(await statuses(backend, '/api/example/hello', ALICE, 3)).toEqual([200, 200, 429]);
      const service = await statuses(backend, '/api/example/hello', SERVICE, 10);
      expect(service).toEqual(Array(10).fill(200));
      const headers = (await get(backend, '/api/example/hello', SERVICE)).headers;
      expect(headers['ratelimit-policy']).toBeUndefined();
    });

    it('cuts bad credentials off after their failed authentications, without verifying them again', async () => {
      const { backend, verifications } = started;
      const before = verifications.count;
      // Two bad tokens are verified, refused by the barrier (401) and counted.
      expect(await statuses(backend, '/api/example/hello', INVALID, 2)).toEqual([401, 401]);
      expect(verifications.count - before).toBe(2);
      // From then on, these credentials are refused before they reach httpAuth.
      const cutOff = await get(backend, '/api/example/hello', INVALID);
      expect(cutOff.status).toBe(429);
      expect(cutOff.headers['ratelimit-policy']).toMatch(
        /^"plugin-example-failed-authentication"; q=2;/,
      );
      expect(cutOff.body.error.message).toMatch(
        /^Too many requests: the failed authentication limit is 2/,
      );
      expect(verifications.count - before).toBe(2);
      // Valid credentials from the same address are verified and served.
      expect((await get(backend, '/api/example/hello', BOB)).status).toBe(200);
      // Requests without credentials never reach httpAuth, and still have their own budget.
      expect((await get(backend, '/api/example/public/1')).status).toBe(200);
    });
  });
});

describe('per-principal budgets at their edges, in a real backend', () => {
  type Backend = Awaited<ReturnType<typeof startTestBackend>>;

  /** Backstage's own plugin token handler, which the package does not export; only its `verifyToken` is used. */
  const PLUGIN_TOKEN_HANDLER_PATH = join(
    dirname(require.resolve('@backstage/backend-defaults/package.json')),
    'dist/entrypoints/auth/plugin/PluginTokenHandler.cjs.js',
  );
  let DefaultPluginTokenHandler: {
    create(options: object): { verifyToken(token: string): Promise<unknown> };
  };

  beforeAll(async () => {
    ({ DefaultPluginTokenHandler } = await import(PLUGIN_TOKEN_HANDLER_PATH));
  });

  /** A token with a plugin token header and a payload that is not JSON: Backstage's handler throws jose's JWTInvalid. */
  const FORGED_PLUGIN_TOKEN = [
    Buffer.from(JSON.stringify({ typ: 'vnd.backstage.plugin', alg: 'ES256' })).toString(
      'base64url',
    ),
    Buffer.from('not json').toString('base64url'),
    'signature',
  ].join('.');

  /**
   * Backstage's real httpAuth over Backstage's mock auth, where plugin tokens go through Backstage's real plugin
   * token handler first, as in a production backend; counts every verification.
   */
  function createAuthServices() {
    const verifications = { count: 0 };
    const authFactory = createServiceFactory({
      service: coreServices.auth,
      deps: { plugin: coreServices.pluginMetadata, logger: coreServices.logger },
      factory({ plugin, logger }) {
        const auth = mockServices.auth({ pluginId: plugin.getId() });
        auth.listPublicServiceKeys = async () => ({ keys: [TEST_PUBLIC_KEY] });
        const handler = DefaultPluginTokenHandler.create({
          logger,
          ownPluginId: plugin.getId(),
          keyDuration: { hours: 1 },
        });
        const authenticate = auth.authenticate.bind(auth);
        auth.authenticate = async (token, options) => {
          verifications.count += 1;
          await handler.verifyToken(token);
          return authenticate(token, options);
        };
        return auth;
      },
    });
    return { verifications, features: [authFactory, httpAuthServiceFactory] };
  }

  async function startBackend(rateLimit: JsonObject) {
    const auth = createAuthServices();
    const backend = await startTestBackend({
      features: [
        httpRouterServiceFactory,
        ...auth.features,
        mockServices.rootConfig.factory({ data: { backend: { rateLimit } } }),
        createExamplePlugin({ pluginId: 'example' }),
      ],
    });
    return { backend, verifications: auth.verifications };
  }

  async function statuses(backend: Backend, path: string, authorization: string, n: number) {
    const result: number[] = [];
    for (let i = 0; i < n; i++) {
      result.push(
        (await request(backend.server).get(path).set('Authorization', authorization)).status,
      );
    }
    return result;
  }

  describe('the all-plugins limit holds for requests with credentials outside plugin routers', () => {
    let backend: RootRouterBackend;

    beforeEach(async () => {
      backend = await startRootRouterBackend(rootHttpRouterServiceFactory, {
        rateLimit: { ipAllowList: [], incomingRequestLimit: 2, userRequestLimit: 5 },
      });
    });

    afterEach(async () => {
      await backend.stop();
    });

    const get = (path: string, authorization: string) =>
      fetch(`${backend.baseUrl}${path}`, { headers: { authorization } }).then(res => res.status);

    it('counts a 404, a root router route and the health route at the root', async () => {
      expect(await get('/api/unknown/thing', 'x')).toBe(404);
      expect(await get('/root-refused', 'x')).toBe(403);
      expect(await get('/.backstage/health/v1/readiness', 'x')).toBe(429);
      expect(await get('/api/unknown/thing', 'x')).toBe(429);
    });

    it('still leaves requests with credentials to the plugin router that counts them', async () => {
      // The plugin opens every path, so it counts them per address in the all-plugins address budget. Its
      // router makes itself known to the root router with its first request, which the root counts.
      const answers = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${backend.baseUrl}/api/example/hello`, {
          headers: { authorization: mockCredentials.user.header() },
        });
        answers.push([res.status, res.headers.get('ratelimit-policy')?.split(';')[0]]);
      }
      expect(answers).toEqual([
        [200, '"global"'],
        [200, '"global-address"'],
        [200, '"global-address"'],
        [429, '"global-address"'],
      ]);
    });
  });

  it("a plugin's ipAllowList does not exempt its requests from the all-plugins budgets", async () => {
    const { backend } = await startBackend({
      ipAllowList: [],
      incomingRequestLimit: 2,
      userRequestLimit: 2,
      plugin: { example: { ipAllowList: ['127.0.0.1', '::ffff:127.0.0.1'] } },
    });
    try {
      expect(await statuses(backend, '/api/example/hello', 'Bearer garbage', 4)).toEqual([
        401, 401, 429, 429,
      ]);
    } finally {
      await backend.stop();
    }
  });

  it('a forged token rejected with an error other than AuthenticationError counts as failed', async () => {
    const { backend, verifications } = await startBackend({
      global: false,
      ipAllowList: [],
      failedAuthenticationLimit: 2,
      plugin: { example: {} },
    });
    try {
      const answers = await statuses(
        backend,
        '/api/example/hello',
        `Bearer ${FORGED_PLUGIN_TOKEN}`,
        5,
      );
      // Backstage's handler throws jose's JWTInvalid, which the error handler answers 500, as upstream does.
      expect(answers).toEqual([500, 500, 429, 429, 429]);
      expect(verifications.count).toBe(2);
    } finally {
      await backend.stop();
    }
  });

  it('forged tokens from an address over its budget cost no verification, without a failed-auth limit', async () => {
    const { backend, verifications } = await startBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 5,
      userRequestLimit: 100,
      plugin: { example: {} },
    });
    try {
      const answers = [];
      for (let i = 0; i < 40; i++) {
        const forged = FORGED_PLUGIN_TOKEN.replace(/signature$/, `signature${i}`);
        answers.push(...(await statuses(backend, '/api/example/hello', `Bearer ${forged}`, 1)));
      }
      expect(answers.filter(status => status === 429)).toHaveLength(35);
      expect(verifications.count).toBe(5);
    } finally {
      await backend.stop();
    }
  });

  it('failedAuthenticationLimit cuts off bad credentials with skipFailedRequests on', async () => {
    const { backend, verifications } = await startBackend({
      global: false,
      ipAllowList: [],
      skipFailedRequests: true,
      failedAuthenticationLimit: 2,
      plugin: { example: {} },
    });
    try {
      const invalid = mockCredentials.user.invalidHeader();
      expect(await statuses(backend, '/api/example/hello', invalid, 4)).toEqual([
        401, 401, 429, 429,
      ]);
      expect(verifications.count).toBe(2);
    } finally {
      await backend.stop();
    }
  });
});

describe('per-principal budgets on a real Redis', () => {
  const ALICE = mockCredentials.user.header('user:default/alice');

  const startBackend = (rateLimit: JsonObject, logs = createLogCollector()) =>
    startCountingAuthBackend(rateLimit, logs);

  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis.stop();
  });

  it('a Redis that cannot read the failed-authentication count gives a plain 503', async () => {
    const logs = createLogCollector();
    const backend = await startBackend(
      {
        global: false,
        ipAllowList: [],
        passOnStoreError: false,
        failedAuthenticationLimit: 5,
        store: {
          type: 'redis',
          connection: redis.url,
          timeout: { milliseconds: OUTAGE_TIMEOUT_MS },
          retryAfter: { seconds: 7 },
        },
        plugin: { example: {} },
      },
      logs,
    );
    try {
      expect(
        (await request(backend.server).get('/api/example/hello').set('Authorization', ALICE))
          .status,
      ).toBe(200);
      redis.pause();
      const answers = [];
      for (let i = 0; i < 3; i++) {
        answers.push(
          await request(backend.server).get('/api/example/hello').set('Authorization', ALICE),
        );
      }
      for (const res of answers) {
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('7');
        expect(res.body.error).toEqual({
          name: 'ServiceUnavailableError',
          message: 'Rate limiting is unavailable; try again later',
        });
        expect(JSON.stringify(res.body)).not.toMatch(/Redis|retryAfter|cause/);
      }
      // The outage is logged when it starts, not once per refused request.
      const perRequest = logs.lines.filter(
        line => line.level === 'error' && /Request failed|ServiceUnavailable/.test(line.message),
      );
      expect(perRequest).toEqual([]);
    } finally {
      redis.resume();
      await backend.stop();
    }
  });

  it("another backend's refused database does not stop this backend's start-up", async () => {
    // Another backend of the process names a database this server does not have.
    const other = createTestRedisStore({ connection: `${redis.url}/99`, prefix: 'rl:other:' });
    other.init?.({ windowMs: 60_000 } as never);
    await other.get?.('warm-up');
    const backend = await startBackend({
      global: false,
      ipAllowList: [],
      store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
      plugin: { example: {} },
    });
    try {
      expect(
        (await request(backend.server).get('/api/example/hello').set('Authorization', ALICE))
          .status,
      ).toBe(200);
    } finally {
      await backend.stop();
      await other.shutdown?.();
    }
  });
});

describe('per-principal budgets shared between plugins and backend instances', () => {
  type Backend = Awaited<ReturnType<typeof startTestBackend>>;

  const ALICE = mockCredentials.user.header('user:default/alice');

  const startBackend = (rateLimit: JsonObject, logs = createLogCollector()) =>
    startCountingAuthBackend(rateLimit, logs, ['example', 'other']);

  const hello = (backend: Backend, pluginId: string, authorization = ALICE) =>
    request(backend.server).get(`/api/${pluginId}/hello`).set('Authorization', authorization);

  let redis: RedisServerHandle;
  const backends: Backend[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await Promise.all(backends.map(backend => backend.stop()));
    await redis.stop();
  });

  it('gives a user one budget across two backend instances on one Redis', async () => {
    const rateLimit = {
      global: false,
      ipAllowList: [],
      userRequestLimit: 3,
      store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
      plugin: { example: {} },
    };
    const [first, second] = [await startBackend(rateLimit), await startBackend(rateLimit)];
    backends.push(first, second);

    expect((await hello(first, 'example')).status).toBe(200);
    expect((await hello(second, 'example')).status).toBe(200);
    expect((await hello(first, 'example')).status).toBe(200);
    expect((await hello(second, 'example')).status).toBe(429);
    const keys = (await redis.cli('KEYS', 'rl:plugin:example:user:*')).split('\n');
    expect(keys).toHaveLength(1);
    expect(Number(await redis.cli('GET', keys[0]))).toBe(4);
    // Another user of the same address is untouched.
    const bob = mockCredentials.user.header('user:default/bob');
    expect((await hello(second, 'example', bob)).status).toBe(200);
  });

  it('counts a user across all plugins with top-level budgets, once per backend, warning once', async () => {
    const logs = createLogCollector();
    const backend = await startBackend(
      {
        ipAllowList: [],
        userRequestLimit: 3,
        incomingRequestLimt: 1,
        store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
      },
      logs,
    );
    backends.push(backend);

    const carol = mockCredentials.user.header('user:default/carol');
    expect((await hello(backend, 'example', carol)).status).toBe(200);
    expect((await hello(backend, 'other', carol)).status).toBe(200);
    const third = await hello(backend, 'example', carol);
    expect(third.headers['ratelimit-policy']).toMatch(/^"global-user"; q=3;/);
    expect((await hello(backend, 'other', carol)).status).toBe(429);
    const keys = (await redis.cli('KEYS', 'rl:global:user:*')).split('\n');
    expect(await Promise.all(keys.map(key => redis.cli('GET', key)))).toEqual(['4']);
    const warnings = logs
      .messages('warn')
      .filter(message => message.includes('incomingRequestLimt'));
    expect(warnings).toHaveLength(1);
  });
});

describe('budget keys', () => {
  const USER_REF = 'user:default/jane.doe';
  const ADDRESSES = ['127.0.0.1', '::ffff:127.0.0.1', '::1'];

  /** Every way express-rate-limit's partition key could spell an unkeyed digest of `value`. */
  function unkeyedDigests(value: string): string[] {
    const hex = createHash('sha256').update(value).digest('hex');
    return [hex.slice(0, 12), Buffer.from(hex.slice(0, 12)).toString('base64'), value];
  }

  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });

  describe.each([
    ['memory', (): JsonObject => ({ type: 'memory' })],
    [
      'redis',
      (): JsonObject => ({ type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT }),
    ],
  ])('budget keys with the %s store', (name, store) => {
    it('let no header value or store key be traced back to the user or the address', async () => {
      const backend = await startCountingAuthBackend({
        ipAllowList: [],
        userRequestLimit: 10,
        failedAuthenticationLimit: 10,
        store: store(),
        plugin: { example: {} },
      });
      try {
        const answers = await Promise.all([
          request(backend.server)
            .get('/api/example/hello')
            .set('Authorization', mockCredentials.user.header(USER_REF)),
          request(backend.server).get('/api/example/hello'),
          request(backend.server)
            .get('/api/example/hello')
            .set('Authorization', mockCredentials.user.invalidHeader()),
        ]);
        const headers = JSON.stringify(answers.map(res => res.headers));
        expect(headers).toMatch(/pk=:/);
        for (const secret of [USER_REF, ...ADDRESSES].flatMap(unkeyedDigests)) {
          expect(headers).not.toContain(secret);
        }
        if (name === 'redis') {
          const keys = await redis.cli('KEYS', 'rl:*');
          expect(keys).toMatch(/rl:plugin:example:user:/);
          expect(keys).not.toMatch(/jane|127\.0\.0\.1|::1/);
        }
      } finally {
        await backend.stop();
      }
    });
  });

  it('shares the key secret of instances on one Redis, so that they share budgets', async () => {
    const rateLimit = {
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 3,
      store: { type: 'redis', connection: redis.url, timeout: HEALTHY_REDIS_TIMEOUT },
      plugin: { other: {} },
    };
    const first = await startCountingAuthBackend(rateLimit, undefined, ['other']);
    const second = await startCountingAuthBackend(rateLimit, undefined, ['other']);
    try {
      const statuses = [];
      for (const backend of [first, second, first, second]) {
        statuses.push((await request(backend.server).get('/api/other/hello')).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});

describe('what clients and logs are told about budgets', () => {
  it('names the address budget, not an anonymous one, when it counts a service token', async () => {
    const logs = createLogCollector();
    const backend = await startCountingAuthBackend(
      {
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 1,
        userRequestLimit: 5,
        plugin: { example: {} },
      },
      logs,
    );
    try {
      const get = () =>
        request(backend.server).get('/api/example/hello?x=1').set('Authorization', SERVICE);
      expect((await get()).headers['ratelimit-policy']).toMatch(/^"plugin-example-address"; q=1;/);
      const refused = await get();
      expect(refused.status).toBe(429);
      expect(refused.body.error.message).toMatch(
        /^Too many requests: the address limit is 1 per 60 seconds/,
      );
      expect(refused.body.request).toEqual({ method: 'GET', url: '/api/example/hello?x=1' });
      expect(logs.messages('info').join('\n')).toMatch(
        /per principal: address 1, user 5, service per address/,
      );
      expect(JSON.stringify(logs.lines)).not.toContain('anonymous');
    } finally {
      await backend.stop();
    }
  });

  it('gives a 401 for a bad token the headers of the failed-authentication budget alone', async () => {
    const backend = await startCountingAuthBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 100,
      failedAuthenticationLimit: 20,
      plugin: { example: {} },
    });
    try {
      const res = await request(backend.server)
        .get('/api/example/hello')
        .set('Authorization', mockCredentials.user.invalidHeader());
      expect(res.status).toBe(401);
      expect(res.headers['x-ratelimit-limit']).toBe('20');
      expect(res.headers['x-ratelimit-remaining']).toBe('19');
      expect(res.headers['ratelimit-policy']).toMatch(
        /^"plugin-example-failed-authentication"; q=20;[^,]*$/,
      );
    } finally {
      await backend.stop();
    }
  });

  it('logs one shutdown warning per backend, however many plugins it has', async () => {
    const logs = createLogCollector();
    const backend = await startCountingAuthBackend({ global: false }, logs, [
      'one',
      'two',
      'three',
    ]);
    await backend.stop();
    expect(
      logs.messages('warn').filter(message => message.startsWith('Shutting down')),
    ).toHaveLength(1);
  });
});

describe('failed-authentication budgets', () => {
  type Backend = Awaited<ReturnType<typeof startTestBackend>>;

  const ALICE = mockCredentials.user.header('user:default/alice');
  const SERVICE = mockCredentials.service.header();
  const INVALID = mockCredentials.user.invalidHeader();

  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis.stop();
  });

  const STORES: Array<[string, () => JsonObject]> = [
    ['memory', () => ({ type: 'memory' })],
    ['redis', () => ({ type: 'redis', connection: redis.url, timeout: { seconds: 2 } })],
  ];

  let prefix = 0;
  async function startBackend(rateLimit: JsonObject) {
    const auth = createCountingAuthServices();
    // Each backend counts under its own plugin id, so that backends on one Redis do not share counts.
    const pluginId = `example${(prefix += 1)}`;
    const backend = await startTestBackend({
      features: [
        httpRouterServiceFactory,
        ...auth.features,
        mockServices.rootLogger.factory(),
        mockServices.rootConfig.factory({
          data: { backend: { rateLimit: { ...rateLimit, plugin: { [pluginId]: {} } } } },
        }),
        createExamplePlugin({ pluginId }),
      ],
    });
    const statuses = async (authorization: string | ((i: number) => string), n: number) => {
      const result: number[] = [];
      for (let i = 0; i < n; i++) {
        const header = typeof authorization === 'string' ? authorization : authorization(i);
        const res = await request(backend.server)
          .get(`/api/${pluginId}/hello`)
          .set('Authorization', header);
        result.push(res.status);
      }
      return result;
    };
    return { backend, verifications: auth.verifications, statuses, pluginId };
  }

  describe.each(STORES)('failed authentications with the %s store', (_name, store) => {
    let started: Awaited<ReturnType<typeof startBackend>> & { backend: Backend };
    afterEach(async () => {
      await started.backend.stop();
    });

    it('serves a valid user and a valid service token from an address that sent 100 bad tokens', async () => {
      started = await startBackend({
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 1000,
        userRequestLimit: 50,
        serviceRequestLimit: 50,
        failedAuthenticationLimit: 20,
        store: store(),
      });
      const { statuses, verifications } = started;
      const bad = await statuses(INVALID, 100);
      expect(bad.filter(status => status === 401)).toHaveLength(20);
      expect(bad.filter(status => status === 429)).toHaveLength(80);
      // The same bad token repeated past the limit is refused without being verified again.
      expect(verifications.count).toBe(20);
      expect(await statuses(ALICE, 2)).toEqual([200, 200]);
      expect(await statuses(SERVICE, 2)).toEqual([200, 200]);
    });

    it('bounds distinct bad tokens by the address budget, then refuses them before verifying', async () => {
      started = await startBackend({
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 5,
        userRequestLimit: 50,
        failedAuthenticationLimit: 2,
        store: store(),
      });
      const { statuses, verifications } = started;
      // Alice's token verified before the address spent its budget, so it still passes on her own budget.
      expect(await statuses(ALICE, 1)).toEqual([200]);
      expect(await statuses(i => `Bearer bad-${i}`, 8)).toEqual([
        401, 401, 401, 401, 401, 429, 429, 429,
      ]);
      expect(verifications.count).toBe(1 + 5);
      expect(await statuses(ALICE, 2)).toEqual([200, 200]);
      // A credential not seen lately from an address over its budget waits for the window to end.
      const before = verifications.count;
      expect(await statuses(SERVICE, 1)).toEqual([429]);
      expect(verifications.count).toBe(before);
    });
  });
});
