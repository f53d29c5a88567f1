import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Handler, type Request } from 'express';
import { MemoryStore, type ClientRateLimitInfo, type Store } from 'express-rate-limit';
import request from 'supertest';
import { createErrorHandler } from '../../middleware/createErrorHandler';
import { carriesCredentials, createLimiter } from '../../rateLimit/limiter';
import { DEFAULT_RATE_LIMIT_OPTIONS } from '../../rateLimit/config';
import { RateLimitStoreUnavailableError } from '../../errors';
import type { RateLimitOptions } from '../../rateLimit/types';
import { createMockLogger } from '../helpers/createMockLogger';

/** A store whose server is down: every call fails as a Redis client's would. */
class UnreachableStore implements Store {
  localKeys = false;
  prefix = 'unreachable:';
  increment(): Promise<ClientRateLimitInfo> {
    return Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:6379'));
  }
  decrement(): Promise<void> {
    return Promise.resolve();
  }
  resetKey(): Promise<void> {
    return Promise.resolve();
  }
}

/** A store that fails closed on its own and has logged the outage already, as the Redis store does. */
class ClosedStore extends UnreachableStore {
  override increment(): Promise<ClientRateLimitInfo> {
    return Promise.reject(
      new RateLimitStoreUnavailableError(5, new Error('Redis did not answer within 100 ms')),
    );
  }
}

function routes() {
  const router = express.Router();
  router.get('/ok', (req, res) => {
    res.json({ key: (req as Request & { rateLimit?: { key: string } }).rateLimit?.key ?? null });
  });
  router.get('/fail', (_req, res) => {
    res.status(404).json({ found: false });
  });
  return router;
}

/** A plain express app: the limiter, the routes and, unless left out, the plugin error handler, sharing one logger. */
function setup(
  overrides: Partial<RateLimitOptions> = {},
  extra: { pluginId?: string | null; store?: Store; errorHandler?: boolean } = {},
) {
  const logger = createMockLogger();
  const options: RateLimitOptions = {
    ...DEFAULT_RATE_LIMIT_OPTIONS,
    limit: 3,
    ipAllowList: [],
    ...overrides,
  };
  const pluginId = extra.pluginId === null ? undefined : (extra.pluginId ?? 'catalog');
  const limiter = createLimiter({
    options,
    pluginId,
    store: extra.store ?? new MemoryStore(),
    logger,
  });
  const app = express();
  app.use(limiter, routes());
  if (extra.errorHandler !== false) {
    app.use(createErrorHandler({ logger }));
  }
  return { app, logger };
}

async function hit(app: express.Express, times: number, path = '/ok') {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) {
    statuses.push((await request(app).get(path)).status);
  }
  return statuses;
}

describe('createLimiter', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    jest.setSystemTime(new Date('2030-01-01T00:00:00Z'));
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('counts requests and answers with the standard and legacy headers', async () => {
    const { app, logger } = setup();
    const res = await request(app).get('/ok');
    expect(res.status).toBe(200);
    expect(res.headers['ratelimit-policy']).toMatch(
      /^"plugin-catalog"; q=3; w=60; pk=:[A-Za-z0-9+/=]+:$/,
    );
    expect(res.headers['ratelimit']).toBe('"plugin-catalog"; r=2; t=60');
    expect(res.headers['x-ratelimit-limit']).toBe('3');
    expect(res.headers['x-ratelimit-remaining']).toBe('2');
    expect(res.headers['x-ratelimit-reset']).toBe(String(Date.now() / 1000 + 60));
    expect(res.headers['retry-after']).toBeUndefined();
    // None of express-rate-limit's validations found anything to say.
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.error).not.toHaveBeenCalled();
  });

  it("leaves express-rate-limit's own counts on req.rateLimit", async () => {
    const { app } = setup();
    app.get('/info', (req, res) => {
      const info = (req as Request & { rateLimit?: unknown }).rateLimit;
      res.json({ own: Object.keys(req).includes('rateLimit'), info });
    });
    await request(app).get('/ok');
    const res = await request(app).get('/info');
    expect(res.body).toEqual({
      own: true,
      info: {
        limit: 3,
        used: 2,
        remaining: 1,
        resetTime: new Date(Date.now() + 60_000).toISOString(),
        key: '127.0.0.1',
      },
    });
  });

  it('counts requests whose client address is unknown under one shared key', async () => {
    const limiter = createLimiter({
      options: { ...DEFAULT_RATE_LIMIT_OPTIONS, limit: 2, ipAllowList: [] },
      store: new MemoryStore(),
    });
    const forgetAddress: Handler = (req, _res, next) => {
      // The address express reports once the socket is gone.
      Object.defineProperty(req, 'ip', { value: undefined });
      next();
    };
    const app = express().use(forgetAddress, limiter, routes());
    const statuses = await hit(app, 3);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it.each([
    ['after the plugin error handler', true],
    ['in a plain express app without an error handler', false],
  ])(
    'refuses the request over the limit with 429, Retry-After and the Backstage error body, %s',
    async (_name, errorHandler) => {
      const { app } = setup({}, { errorHandler });
      expect(await hit(app, 3)).toEqual([200, 200, 200]);
      jest.advanceTimersByTime(20_000);

      const res = await request(app).get('/ok?page=2');
      expect(res.status).toBe(429);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['retry-after']).toBe('40');
      expect(res.headers['ratelimit']).toBe('"plugin-catalog"; r=0; t=40');
      expect(res.headers['x-ratelimit-remaining']).toBe('0');
      expect(res.body).toEqual({
        error: {
          name: 'TooManyRequestsError',
          message: 'Too many requests: the limit is 3 per 60 seconds; try again in 40 seconds',
        },
        request: { method: 'GET', url: '/ok?page=2' },
        response: { statusCode: 429 },
      });
    },
  );

  it('lets the client in again once the window has passed', async () => {
    const { app } = setup();
    expect(await hit(app, 4)).toEqual([200, 200, 200, 429]);
    jest.advanceTimersByTime(59_000);
    expect(await hit(app, 1)).toEqual([429]);
    jest.advanceTimersByTime(1_000);
    const res = await request(app).get('/ok');
    expect(res.status).toBe(200);
    expect(res.headers['x-ratelimit-remaining']).toBe('2');
  });

  it('does not count successful requests with skipSuccessfulRequests', async () => {
    const { app } = setup({ skipSuccessfulRequests: true });
    expect(await hit(app, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(await hit(app, 4, '/fail')).toEqual([404, 404, 404, 429]);
  });

  it('does not count failed requests with skipFailedRequests', async () => {
    const { app } = setup({ skipFailedRequests: true });
    expect(await hit(app, 5, '/fail')).toEqual([404, 404, 404, 404, 404]);
    expect(await hit(app, 4)).toEqual([200, 200, 200, 429]);
  });

  it.each([
    ['an exact IPv4 address', ['127.0.0.1']],
    ['an IPv4 range', ['127.0.0.0/8']],
    ['an IPv4-mapped IPv6 address', ['::ffff:127.0.0.1']],
    ['one of several entries', ['10.0.0.0/8', '2001:db8::/32', '127.0.0.1']],
  ])('never limits a client on the allow list: %s', async (_name, ipAllowList) => {
    const { app } = setup({ ipAllowList });
    const responses = [];
    for (let i = 0; i < 5; i++) {
      responses.push(await request(app).get('/ok'));
    }
    expect(responses.map(res => res.status)).toEqual([200, 200, 200, 200, 200]);
    for (const res of responses) {
      expect(res.headers['ratelimit']).toBeUndefined();
      expect(res.headers['ratelimit-policy']).toBeUndefined();
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });

  it('limits a client outside the allow list', async () => {
    const { app } = setup({ ipAllowList: ['10.0.0.0/8', '::1'] });
    expect(await hit(app, 4)).toEqual([200, 200, 200, 429]);
  });

  it('matches IPv4 entries for a client seen as an IPv4-mapped address on a dual-stack server', async () => {
    const { app } = setup({ ipAllowList: ['127.0.0.0/8'] }, { pluginId: null });
    app.get('/ip', (req, res) => {
      res.json({ ip: req.ip });
    });
    const server: Server = createServer(app).listen(0, '::');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const url = `http://[::ffff:127.0.0.1]:${port}`;
      expect((await request(url).get('/ip')).body).toEqual({ ip: '::ffff:127.0.0.1' });
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        const res = await request(url).get('/ok');
        statuses.push(res.status);
        expect(res.headers['ratelimit']).toBeUndefined();
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
    } finally {
      server.close();
    }
  });

  it('keys clients by address and names its policy after the plugin, or global', async () => {
    const plugin = setup();
    const pluginRes = await request(plugin.app).get('/ok');
    expect(pluginRes.body).toEqual({ key: '127.0.0.1' });
    expect(pluginRes.headers['ratelimit']).toBe('"plugin-catalog"; r=2; t=60');
    const global = setup({}, { pluginId: null });
    const globalRes = await request(global.app).get('/ok');
    expect(globalRes.body).toEqual({ key: '127.0.0.1' });
    expect(globalRes.headers['ratelimit']).toBe('"global"; r=2; t=60');
  });

  it('counts IPv6 clients per /56 network', async () => {
    const { app } = setup({ limit: 2 });
    app.set('trust proxy', 'loopback');
    const from = (ip: string) => request(app).get('/ok').set('X-Forwarded-For', ip);

    expect((await from('2001:db8:1:100::1')).body).toEqual({ key: '2001:db8:1:100::/56' });
    expect((await from('2001:db8:1:1ff:ffff::2')).status).toBe(200);
    expect((await from('2001:db8:1:1ab::3')).status).toBe(429);
    expect((await from('2001:db8:1:200::1')).status).toBe(200);
  });

  it('counts an IPv4-mapped client as its IPv4 address', async () => {
    const { app } = setup({ limit: 1 });
    app.set('trust proxy', 'loopback');
    const mapped = await request(app).get('/ok').set('X-Forwarded-For', '::ffff:203.0.113.9');
    expect(mapped.body).toEqual({ key: '203.0.113.9' });
    const plain = await request(app).get('/ok').set('X-Forwarded-For', '203.0.113.9');
    expect(plain.status).toBe(429);
    const other = await request(app).get('/ok').set('X-Forwarded-For', '::ffff:203.0.113.10');
    expect(other.status).toBe(200);
  });

  it.each([true, false])(
    'refuses with 503 when the store fails, without revealing its error, whatever passOnStoreError (%s) says: failing open is the store’s decision',
    async passOnStoreError => {
      const { app, logger } = setup({ passOnStoreError }, { store: new UnreachableStore() });
      const res = await request(app).get('/ok');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        error: {
          name: 'ServiceUnavailableError',
          message: 'Rate limiting is unavailable; try again later',
        },
        request: { method: 'GET', url: '/ok' },
        response: { statusCode: 503 },
      });
      expect(JSON.stringify(res.body)).not.toContain('ECONNREFUSED');
      // An unexpected failure is logged once, by the limiter, and not again by the error handler.
      expect(logger.error).toHaveBeenCalledTimes(1);
      expect(logger.error).toHaveBeenCalledWith(
        "Rate limiter 'plugin-catalog' failed; refusing the request",
        expect.objectContaining({ message: 'connect ECONNREFUSED 10.1.2.3:6379' }),
      );
    },
  );

  it('answers a store that fails closed with 503 and its Retry-After, and logs nothing per request', async () => {
    const { app, logger } = setup({ passOnStoreError: false }, { store: new ClosedStore() });
    for (let i = 0; i < 20; i++) {
      const res = await request(app).get('/ok');
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body.error).toEqual({
        name: 'ServiceUnavailableError',
        message: 'Rate limiting is unavailable; try again later',
      });
    }
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('counts the all-plugins and the plugin limiter independently on one request', async () => {
    const logger = createMockLogger();
    const global = createLimiter({
      options: { ...DEFAULT_RATE_LIMIT_OPTIONS, limit: 5, ipAllowList: [] },
      store: new MemoryStore(),
      logger,
    });
    const plugin = createLimiter({
      options: { ...DEFAULT_RATE_LIMIT_OPTIONS, limit: 2, ipAllowList: [] },
      pluginId: 'catalog',
      store: new MemoryStore(),
      logger,
    });
    const app = express().use(global, plugin, routes());
    const res = await request(app).get('/ok');
    expect(res.headers['ratelimit']).toBe('"global"; r=4; t=60, "plugin-catalog"; r=1; t=60');
    expect(await hit(app, 2)).toEqual([200, 429]);
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.warn).not.toHaveBeenCalled();
  });
});

describe('carriesCredentials', () => {
  it.each([
    ['the auth cookie', 'backstage-auth=t', true],
    ['the auth cookie after others', 'a=1; backstage-auth=t', true],
    [
      'the auth cookie with spaces around =, as cookie parsers read it',
      'a=1;  backstage-auth = t',
      true,
    ],
    ['a cookie whose name ends in the auth cookie', 'x-backstage-auth=1', false],
    ['other cookies only', 'session=1; theme=dark', false],
  ])('reads %s as %s', (_name, cookie, expected) => {
    const req = { headers: { cookie } } as Request;
    expect(carriesCredentials(req, { locals: {} } as never)).toBe(expected);
  });
});
