import { httpRouterServiceFactory as upstreamHttpRouterServiceFactory } from '@backstage/backend-defaults/httpRouter';
import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import type { ErrorRequestHandler, Handler, RequestHandler } from 'express';
import Router from 'express-promise-router';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createProbePlugin } from '../helpers/createProbePlugin';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

/** What the plugin's own error handler saw, per backend. */
type Seen = string[];

/**
 * A plugin that hands `http.use` what plugins hand it besides one router: plain and async middleware, an
 * array, and an error handler of its own.
 */
function createHandlersPlugin(seen: Seen) {
  return createProbePlugin(async http => {
    http.addAuthPolicy({ path: '/open', allow: 'unauthenticated' });
    const tag: RequestHandler = (_req, res, next) => {
      res.setHeader('x-tagged', 'yes');
      next();
    };
    const asyncPass: RequestHandler = async (req, _res, next) => {
      if (req.path === '/async-fails') {
        throw new Error('async middleware failed');
      }
      next();
    };
    http.use([tag, [asyncPass]] as unknown as Handler);
    const routes = Router();
    routes.get('/open/ok', async (_req, res) => {
      res.json({ ok: true });
    });
    routes.get('/open/teapot', async () => {
      throw Object.assign(new Error('short and stout'), { name: 'TeapotError' });
    });
    http.use(routes);
    const pluginErrors: ErrorRequestHandler = (err, req, res, next) => {
      seen.push(`${req.path}: ${err.name}`);
      if (err.name === 'TeapotError') {
        res.status(418).json({ teapot: true });
        return;
      }
      next(err);
    };
    http.use(pluginErrors as unknown as Handler);
  }, 'handlers');
}

describe.each([
  ['ours', httpRouterServiceFactory],
  ['upstream', upstreamHttpRouterServiceFactory],
])('handlers given to http.use, %s', (_name, factory) => {
  const seen: Seen = [];
  let backend: Awaited<ReturnType<typeof startTestBackend>>;

  beforeAll(async () => {
    backend = await startTestBackend({
      features: [factory, ...TEST_AUTH_SERVICES, createHandlersPlugin(seen)],
    });
  });

  afterAll(async () => {
    await backend.stop();
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('runs arrays of handlers in order before the routes', async () => {
    const res = await request(backend.server).get('/api/handlers/open/ok');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    expect(res.headers['x-tagged']).toBe('yes');
  });

  it("lets the plugin's error handler answer errors from its routes", async () => {
    const res = await request(backend.server).get('/api/handlers/open/teapot');
    expect(res.status).toBe(418);
    expect(res.body).toEqual({ teapot: true });
    expect(seen).toEqual(['/open/teapot: TeapotError']);
  });

  it('answers a rejected async middleware with the Backstage error body', async () => {
    const res = await request(backend.server)
      .get('/api/handlers/async-fails')
      .set('Authorization', mockCredentials.service.header());
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({ name: 'Error', message: 'async middleware failed' });
    expect(seen).toEqual(['/async-fails: Error']);
  });

  it("keeps the credentials barrier's refusal away from the plugin's error handler", async () => {
    const res = await request(backend.server).get('/api/handlers/closed');
    expect(res.status).toBe(401);
    expect(res.body.error.name).toBe('AuthenticationError');
    expect(seen).toEqual([]);
  });
});

describe('http.use refuses what is not a handler', () => {
  it.each([
    ['a string', 'not a handler', '"not a handler"'],
    ['an array holding a number', [() => undefined, 42], '42'],
    ['an empty array', [], 'an empty array'],
  ])('refuses %s, naming the plugin and the value', async (_name, value, shown) => {
    const plugin = createProbePlugin(async http => {
      http.use(value as unknown as Handler);
    }, 'broken');
    await expect(
      startTestBackend({ features: [httpRouterServiceFactory, ...TEST_AUTH_SERVICES, plugin] }),
    ).rejects.toThrow(
      `httpRouter.use() of plugin 'broken' expects a request handler function (or an array of them), got ${shown}`,
    );
  });
});
