import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { dirname, join } from 'node:path';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { rootHttpRouterServiceFactory } from '../../httpRouter/rootHttpRouterServiceFactory';
import { createExamplePlugin } from '../helpers/createExamplePlugin';
import { startRootRouterBackend, type RootRouterBackend } from '../helpers/startRootRouterBackend';
import { TEST_PUBLIC_KEY } from '../helpers/testAuthServices';

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
  Buffer.from(JSON.stringify({ typ: 'vnd.backstage.plugin', alg: 'ES256' })).toString('base64url'),
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

describe('per-principal budgets at their edges, in a real backend', () => {
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
