import { rootHttpRouterServiceFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import type { Server } from 'node:http';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createRateLimitMiddleware } from '../../rateLimit/createRateLimitMiddleware';
import { createExamplePlugin } from '../helpers/createExamplePlugin';
import { createLogCollector } from '../helpers/createLogCollector';
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
