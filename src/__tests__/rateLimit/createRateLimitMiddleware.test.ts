import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import express from 'express';
import request from 'supertest';
import { ERROR_CODES } from '../../errors';
import { createRateLimitMiddleware } from '../../rateLimit/createRateLimitMiddleware';
import { createErrorHandler } from '../../middleware/createErrorHandler';
import { createTestLifecycle } from '../helpers/createTestLifecycle';
import { createMockLogger } from '../helpers/createMockLogger';

/** An express app with the handlers and, last, the plugin error handler, which answers in Backstage's body. */
function createTestApp(...handlers: express.Handler[]) {
  return express().use(...handlers, createErrorHandler({ logger: createMockLogger() }));
}

function routes() {
  const router = express.Router();
  router.get('/ok', (req, res) => {
    res.json({ ip: req.ip });
  });
  return router;
}

function setup(backend: JsonObject, options: { pluginId?: string; trustProxy?: unknown } = {}) {
  const config = new ConfigReader({ backend });
  const logger = createMockLogger();
  const testLifecycle = createTestLifecycle();
  const middleware = createRateLimitMiddleware({
    pluginId: 'pluginId' in options ? options.pluginId : 'catalog',
    config,
    logger,
    lifecycle: testLifecycle.lifecycle,
  });
  const app = createTestApp(middleware, routes());
  if (options.trustProxy !== undefined) {
    app.set('trust proxy', options.trustProxy);
  }
  return { app, logger, config, ...testLifecycle };
}

async function statuses(app: express.Express, forwardedFor: Array<string | undefined>) {
  const result: number[] = [];
  for (const header of forwardedFor) {
    const req = request(app).get('/ok');
    result.push(
      (header === undefined ? await req : await req.set('X-Forwarded-For', header)).status,
    );
  }
  return result;
}

describe('createRateLimitMiddleware', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  describe('where limits apply', () => {
    it('passes everything on, and says so once, when rate limiting is not configured', async () => {
      const { app, logger } = setup({});
      expect(await statuses(app, Array(10).fill(undefined))).toEqual(Array(10).fill(200));
      expect(logger.info).toHaveBeenCalledWith("Rate limiting is off for plugin 'catalog'");
    });

    it('limits a plugin with a block, taking what the block leaves out from the top level', async () => {
      const backend = {
        rateLimit: { incomingRequestLimit: 2, ipAllowList: [], plugin: { catalog: {} } },
      };
      const catalog = setup(backend);
      expect(await statuses(catalog.app, [undefined, undefined, undefined])).toEqual([
        200, 200, 429,
      ]);
      expect(catalog.logger.info).toHaveBeenCalledWith(
        "Rate limiting plugin 'catalog': 2 requests per 60000 ms per client, memory store, allow list []",
      );
    });

    it('does not limit a plugin without a block; the all-plugins limiter covers it', async () => {
      const backend = {
        rateLimit: { incomingRequestLimit: 2, ipAllowList: [], plugin: { catalog: {} } },
      };
      const search = setup(backend, { pluginId: 'search' });
      expect(await statuses(search.app, Array(5).fill(undefined))).toEqual(Array(5).fill(200));
      const global = setup(backend, { pluginId: undefined });
      expect(await statuses(global.app, [undefined, undefined, undefined])).toEqual([
        200, 200, 429,
      ]);
    });

    it('turns only the all-plugins limiter off with global: false', async () => {
      const backend = {
        rateLimit: {
          global: false,
          incomingRequestLimit: 2,
          ipAllowList: [],
          plugin: { catalog: {} },
        },
      };
      const global = setup(backend, { pluginId: undefined });
      expect(await statuses(global.app, Array(5).fill(undefined))).toEqual(Array(5).fill(200));
      expect(global.logger.info).toHaveBeenCalledWith('Rate limiting is off for all plugins');
      const catalog = setup(backend);
      expect(await statuses(catalog.app, [undefined, undefined, undefined])).toEqual([
        200, 200, 429,
      ]);
    });

    it('limits with the defaults for rateLimit: true, and lets loopback through', async () => {
      const { logger, app } = setup({ rateLimit: true }, { pluginId: undefined });
      expect(logger.info).toHaveBeenCalledWith(
        'Rate limiting all plugins: 1000 requests per 60000 ms per client, memory store, allow list ["127.0.0.1","::1"]',
      );
      const res = await request(app).get('/ok');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit']).toBeUndefined();
    });
  });

  describe('start-up', () => {
    it('throws HttpRouterConfigError for bad config when the middleware is created', () => {
      expect(() => setup({ rateLimit: { plugin: { catalog: { window: 'soon' } } } })).toThrow(
        expect.objectContaining({
          code: ERROR_CODES.config,
          key: 'backend.rateLimit.plugin.catalog.window',
        }),
      );
    });

    // No module-level memory of what was logged; the factory reads the config once per backend
    // instead (see principalRateLimitBackend.test.ts for one warning with several plugins).
    it('logs each config warning every time it reads the config', () => {
      const config = new ConfigReader({
        backend: { rateLimit: { windw: '1m', plugin: { catalog: {} } } },
      });
      const logger = createMockLogger();
      createRateLimitMiddleware({ config, logger });
      createRateLimitMiddleware({ config, logger, pluginId: 'catalog' });
      expect(logger.warn).toHaveBeenCalledTimes(2);
      expect(logger.warn).toHaveBeenCalledWith(
        "Unknown config key 'backend.rateLimit.windw' is ignored; did you mean 'backend.rateLimit.window'?",
      );
    });

    it('logs the deprecated spelling of skipSuccessfulRequests and honours it', async () => {
      const { app, logger } = setup({
        rateLimit: {
          skipSuccesfulRequests: true,
          incomingRequestLimit: 1,
          ipAllowList: [],
          plugin: { catalog: {} },
        },
      });
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringContaining(
          "'backend.rateLimit.skipSuccesfulRequests' is a deprecated misspelling",
        ),
      );
      expect(await statuses(app, [undefined, undefined, undefined])).toEqual([200, 200, 200]);
    });

    it('stops the memory store timer at shutdown', async () => {
      jest.useFakeTimers();
      const { shutdown } = setup({ rateLimit: { plugin: { catalog: {} } } });
      expect(jest.getTimerCount()).toBe(1);
      await shutdown();
      expect(jest.getTimerCount()).toBe(0);
    });

    it('answers 429 with the Backstage error body when used alone in a plain express app', async () => {
      const config = new ConfigReader({
        backend: {
          rateLimit: { incomingRequestLimit: 1, ipAllowList: [], plugin: { catalog: {} } },
        },
      });
      // No error handler at all: express's default one would answer with an HTML page and a stack trace.
      const app = express().use(
        createRateLimitMiddleware({ pluginId: 'catalog', config }),
        routes(),
      );
      expect((await request(app).get('/ok')).status).toBe(200);
      const refused = await request(app).get('/ok');
      expect(refused.status).toBe(429);
      expect(refused.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(refused.headers['retry-after']).toBe('60');
      expect(refused.body).toEqual({
        error: {
          name: 'TooManyRequestsError',
          message: 'Too many requests: the limit is 1 per 60 seconds; try again in 60 seconds',
        },
        request: { method: 'GET', url: '/ok' },
        response: { statusCode: 429 },
      });
    });

    it('works without logger and lifecycle, as upstream calls it', async () => {
      const config = new ConfigReader({
        backend: {
          rateLimit: { incomingRequestLimit: 1, ipAllowList: [], plugin: { catalog: {} } },
        },
      });
      const app = createTestApp(
        createRateLimitMiddleware({ pluginId: 'catalog', config }),
        routes(),
      );
      expect(await statuses(app, [undefined, undefined])).toEqual([200, 429]);
    });
  });

  describe('which client counts (no spoofing)', () => {
    const limited = { rateLimit: { incomingRequestLimit: 2, plugin: { catalog: {} } } };
    const limitedNoAllowList = {
      rateLimit: { incomingRequestLimit: 2, ipAllowList: ['10.0.0.1'], plugin: { catalog: {} } },
    };

    it('ignores X-Forwarded-For when trust proxy is off, and warns once that it saw one', async () => {
      const { app, logger } = setup(limitedNoAllowList);
      expect(
        await statuses(app, ['198.51.100.1', '198.51.100.2', '10.0.0.1', '198.51.100.4']),
      ).toEqual([200, 200, 429, 429]);
      expect(logger.warn).toHaveBeenCalledTimes(1);
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringContaining("X-Forwarded-For header while express 'trust proxy' is off"),
      );
    });

    it.each([
      ['X-Forwarded-For', '203.0.113.7'],
      ['Forwarded', 'for=203.0.113.7'],
    ])(
      'warns once that an allow-listed proxy exempts its clients when requests carry %s',
      async (header, value) => {
        const { app, logger } = setup(limited);
        const sent = [];
        for (let i = 0; i < 4; i++) {
          sent.push((await request(app).get('/ok').set(header, value)).status);
        }
        expect(sent).toEqual([200, 200, 200, 200]);
        expect(logger.warn).toHaveBeenCalledTimes(1);
        expect(logger.warn).toHaveBeenCalledWith(
          expect.stringMatching(
            /from 127\.0\.0\.1 through uncounted.*backend\.trustProxy.*'loopback'/,
          ),
        );
      },
    );

    it('does not warn about an allow-listed client that a trusted proxy forwarded', async () => {
      const { app, logger } = setup(limitedNoAllowList, { trustProxy: 1 });
      expect(await statuses(app, ['10.0.0.1', '10.0.0.1'])).toEqual([200, 200]);
      expect(logger.warn).not.toHaveBeenCalled();
    });

    it('with a hop count, counts the address the proxy saw, whatever the client wrote before it', async () => {
      const { app } = setup(limitedNoAllowList, { trustProxy: 1 });
      const sent = ['1.1.1.1, 203.0.113.7', '2.2.2.2, 203.0.113.7', '10.0.0.1, 203.0.113.7'];
      expect(await statuses(app, sent)).toEqual([200, 200, 429]);
      const res = await request(app).get('/ok').set('X-Forwarded-For', '203.0.113.8');
      expect(res.status).toBe(200);
    });

    it('does not exempt the clients of a loopback proxy through the default allow list', async () => {
      // The proxy connects from 127.0.0.1, which the default allow list holds; only req.ip is checked.
      const { app } = setup(limited, { trustProxy: 'loopback' });
      const sent = ['203.0.113.7', '203.0.113.7', '203.0.113.7'];
      expect(await statuses(app, sent)).toEqual([200, 200, 429]);
    });

    it('does not let a client claim a loopback address behind a trusted proxy', async () => {
      const { app } = setup(limited, { trustProxy: ['127.0.0.1/8'] });
      const sent = ['127.0.0.1, 203.0.113.7', '::1, 203.0.113.7', '127.0.0.1, 203.0.113.7'];
      expect(await statuses(app, sent)).toEqual([200, 200, 429]);
    });

    it('still exempts the allow-listed client seen through a trusted proxy', async () => {
      const { app } = setup(limitedNoAllowList, { trustProxy: 1 });
      expect(await statuses(app, Array(4).fill('10.0.0.1'))).toEqual([200, 200, 200, 200]);
    });

    it('with trust proxy true the client picks its own address, which is why start-up warns', async () => {
      const { app, logger } = setup({ ...limited, trustProxy: true }, { trustProxy: true });
      expect(logger.warn).toHaveBeenCalledWith(
        expect.stringContaining("'backend.trustProxy' is true"),
      );
      // The risk the warning names: a fresh left-most entry per request is a fresh client.
      expect(await statuses(app, ['198.51.100.1', '198.51.100.2', '198.51.100.3'])).toEqual([
        200, 200, 200,
      ]);
    });
  });
});
