import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { httpRouterServiceFactory as upstreamHttpRouterServiceFactory } from '@backstage/backend-defaults/httpRouter';
import express, { type ErrorRequestHandler, type Handler, type RequestHandler } from 'express';
import Router from 'express-promise-router';
import {
  coreServices,
  createBackendPlugin,
  createServiceFactory,
  type RootHttpRouterService,
} from '@backstage/backend-plugin-api';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { createProbePlugin } from '../helpers/createProbePlugin';
import { createRecordingLogger } from '../helpers/createRecordingLogger';
import { startWebSocketBackend } from '../helpers/startWebSocketBackend';
import { TEST_AUTH_SERVICES, TEST_PUBLIC_KEY } from '../helpers/testAuthServices';

describe('httpRouterServiceFactory in a real backend', () => {
  let backend: Awaited<ReturnType<typeof startTestBackend>>;

  beforeAll(async () => {
    backend = await startTestBackend({
      features: [
        httpRouterServiceFactory,
        ...TEST_AUTH_SERVICES,
        createExamplePlugin({ policies: EXAMPLE_POLICIES }),
      ],
    });
  });

  afterAll(async () => {
    await backend.stop();
  });

  it('refuses a request without credentials with the Backstage error body', async () => {
    const res = await request(backend.server).get('/api/example/hello');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: { name: 'AuthenticationError', message: expect.any(String) },
      request: { method: 'GET', url: '/hello' },
      response: { statusCode: 401 },
    });
  });

  it.each([
    ['user token', mockCredentials.user.header()],
    ['service token', mockCredentials.service.header()],
  ])('serves a request with a %s', async (_name, header) => {
    const res = await request(backend.server)
      .get('/api/example/hello')
      .set('Authorization', header);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hello: 'world' });
  });

  it('refuses an invalid token', async () => {
    const res = await request(backend.server)
      .get('/api/example/hello')
      .set('Authorization', mockCredentials.user.invalidHeader());
    expect(res.status).toBe(401);
  });

  it('accepts a limited user cookie only on a user-cookie path', async () => {
    const cookie = mockCredentials.limitedUser.cookie();
    const normal = await request(backend.server).get('/api/example/hello').set('Cookie', cookie);
    expect(normal.status).toBe(401);
    const opened = await request(backend.server)
      .get('/api/example/cookie-ok')
      .set('Cookie', cookie);
    expect(opened.status).toBe(200);
    expect(opened.body).toEqual({ cookie: 'ok' });
  });

  it('serves an unauthenticated policy path without a token', async () => {
    const res = await request(backend.server).get('/api/example/public/42');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: '42' });
  });

  it('serves the JWKS without credentials', async () => {
    const res = await request(backend.server).get('/api/example/.backstage/auth/v1/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: [TEST_PUBLIC_KEY] });
  });

  it('issues and clears the user cookie', async () => {
    const issued = await request(backend.server)
      .get('/api/example/.backstage/auth/v1/cookie')
      .set('Authorization', mockCredentials.user.header());
    expect(issued.status).toBe(200);
    expect(new Date(issued.body.expiresAt).toISOString()).toBe(issued.body.expiresAt);
    expect(issued.headers['set-cookie']).toEqual(
      expect.arrayContaining([expect.stringContaining('backstage-auth=')]),
    );

    const cleared = await request(backend.server)
      .delete('/api/example/.backstage/auth/v1/cookie')
      .set('Authorization', mockCredentials.user.header());
    expect(cleared.status).toBe(204);
  });

  it('answers a NotFoundError thrown by a route with a 404 body', async () => {
    const res = await request(backend.server)
      .get('/api/example/missing')
      .set('Authorization', mockCredentials.user.header());
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { name: 'NotFoundError', message: 'There is nothing here' },
      request: { method: 'GET', url: '/missing' },
      response: { statusCode: 404 },
    });
  });

  it('answers an unexpected error with a 500 body', async () => {
    const res = await request(backend.server)
      .get('/api/example/boom')
      .set('Authorization', mockCredentials.user.header());
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({ name: 'Error', message: 'Something broke' });
    expect(res.body.response).toEqual({ statusCode: 500 });
  });
});

describe('httpRouterServiceFactory options', () => {
  it('mounts plugins where getPath says', async () => {
    const backend = await startTestBackend({
      features: [
        httpRouterServiceFactory({ getPath: id => `/custom/${id}` }),
        ...TEST_AUTH_SERVICES,
        createExamplePlugin({ policies: EXAMPLE_POLICIES }),
      ],
    });
    try {
      expect((await request(backend.server).get('/custom/example/public/1')).status).toBe(200);
      expect((await request(backend.server).get('/api/example/public/1')).status).toBe(404);
    } finally {
      await backend.stop();
    }
  });

  it('refuses a mount path that does not start with a slash, naming the plugin', async () => {
    await expect(
      startTestBackend({
        features: [
          httpRouterServiceFactory({ getPath: id => `api/${id}` }),
          ...TEST_AUTH_SERVICES,
          createExamplePlugin(),
        ],
      }),
    ).rejects.toThrow(
      "expected getPath('example') to return a path starting with '/', got \"api/example\"",
    );
  });

  it('lists the opened paths once the plugin has started', async () => {
    const { factory: loggerFactory, messages } = createRecordingLogger();
    const backend = await startTestBackend({
      features: [
        httpRouterServiceFactory,
        loggerFactory,
        createExamplePlugin({ policies: EXAMPLE_POLICIES }),
      ],
    });
    try {
      expect(messages).toContain(
        "Auth policies for plugin 'example': /public (unauthenticated), /cookie-ok (user-cookie)",
      );
    } finally {
      await backend.stop();
    }
  });
});

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
  it.each<[string, unknown, string]>([
    ['a string', 'not a handler', '"not a handler"'],
    ['an array holding a number', [(): void => undefined, 42], '42'],
    ['an empty array', [], 'an empty array'],
    ['undefined', undefined, 'undefined'],
    ['an array holding undefined', [(): void => undefined, undefined], 'undefined'],
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

/** A root router as Backstage 0.18 has it: `use` only, no WebSocket routing. */
const rootRouterWithoutWebSockets = createServiceFactory({
  service: coreServices.rootHttpRouter,
  deps: {},
  factory() {
    const app = express();
    return {
      use: (path: string, handler: express.Handler) => app.use(path, handler),
    } as unknown as RootHttpRouterService;
  },
});

describe('addWebSocketHandler on each Backstage line', () => {
  it('offers no addWebSocketHandler when the root router routes no upgrades, as upstream before 0.19', async () => {
    let offered: boolean | undefined;
    const probe = createProbePlugin(http => {
      offered = 'addWebSocketHandler' in http;
    });
    const backend = await startWebSocketBackend({
      features: [probe],
      rootHttpRouter: rootRouterWithoutWebSockets,
    });
    await backend.started;
    await backend.stop();
    expect(offered).toBe(false);
  });

  it('offers addWebSocketHandler exactly when the installed root router routes upgrades (Backstage 0.19 on)', async () => {
    let offered: boolean | undefined;
    let routed: boolean | undefined;
    const probe = createProbePlugin(http => {
      offered = 'addWebSocketHandler' in http;
    });
    const rootProbe = createBackendPlugin({
      pluginId: 'root-probe',
      register(env) {
        env.registerInit({
          deps: { rootHttpRouter: coreServices.rootHttpRouter },
          async init({ rootHttpRouter }) {
            routed =
              typeof (rootHttpRouter as { addWebSocketHandler?: unknown }).addWebSocketHandler ===
              'function';
          },
        });
      },
    });
    const backend = await startWebSocketBackend({ features: [probe, rootProbe] });
    await backend.started;
    await backend.stop();
    expect(routed).toBeDefined();
    expect(offered).toBe(routed);
  });
});

/**
 * A plugin with a case-sensitive router serving `/cs/public` and a protected `/cs/PUBLIC`, which opens
 * `/cs/public` at start-up and opens `/late` when `POST /open-late` is called after start-up.
 */
const caseSensitivePlugin = createProbePlugin(async http => {
  const router = express.Router({ caseSensitive: true });
  router.get('/cs/public', (_req, res) => {
    res.json({ public: true });
  });
  router.get('/cs/PUBLIC', (_req, res) => {
    res.json({ secret: true });
  });
  router.get('/late', (_req, res) => {
    res.json({ late: true });
  });
  router.post('/open-late', (_req, res) => {
    http.addAuthPolicy({ path: '/late', allow: 'unauthenticated' });
    res.json({ opened: true });
  });
  http.use(router);
  http.addAuthPolicy({ path: '/cs/public', allow: 'unauthenticated' });
}, 'cs');

describe('auth policies in a real backend', () => {
  let backend: Awaited<ReturnType<typeof startTestBackend>>;
  let messages: string[];

  beforeAll(async () => {
    const logger = createRecordingLogger();
    messages = logger.messages;
    backend = await startTestBackend({
      features: [
        httpRouterServiceFactory,
        logger.factory,
        ...TEST_AUTH_SERVICES,
        caseSensitivePlugin,
      ],
    });
  });

  afterAll(async () => {
    await backend.stop();
  });

  it('a policy on /cs/public does not open /cs/PUBLIC of a case-sensitive router', async () => {
    expect((await request(backend.server).get('/api/cs/cs/public')).body).toEqual({ public: true });

    const protectedRoute = await request(backend.server).get('/api/cs/cs/PUBLIC');
    expect(protectedRoute.status).toBe(401);
    expect(protectedRoute.body.error.name).toBe('AuthenticationError');

    const withCredentials = await request(backend.server)
      .get('/api/cs/cs/PUBLIC')
      .set('Authorization', mockCredentials.user.header());
    expect(withCredentials.body).toEqual({ secret: true });
  });

  it('with a default (case-insensitive) router, an oddly-cased request needs credentials', async () => {
    const backendWithExample = await startTestBackend({
      features: [
        httpRouterServiceFactory,
        ...TEST_AUTH_SERVICES,
        createExamplePlugin({ policies: EXAMPLE_POLICIES }),
      ],
    });
    try {
      expect((await request(backendWithExample.server).get('/api/example/public/1')).status).toBe(
        200,
      );
      expect((await request(backendWithExample.server).get('/api/example/PUBLIC/1')).status).toBe(
        401,
      );
      const withCredentials = await request(backendWithExample.server)
        .get('/api/example/PUBLIC/1')
        .set('Authorization', mockCredentials.user.header());
      expect(withCredentials.body).toEqual({ id: '1' });
    } finally {
      await backendWithExample.stop();
    }
  });

  it('a policy added after start-up is logged with the plugin, path and access', async () => {
    expect(messages).toContain("Auth policies for plugin 'cs': /cs/public (unauthenticated)");
    expect((await request(backend.server).get('/api/cs/late')).status).toBe(401);

    const opened = await request(backend.server)
      .post('/api/cs/open-late')
      .set('Authorization', mockCredentials.user.header());
    expect(opened.status).toBe(200);

    expect((await request(backend.server).get('/api/cs/late')).status).toBe(200);
    expect(messages).toContain(
      "Auth policy added to plugin 'cs' after start-up: /late (unauthenticated)",
    );
    expect(messages.filter(message => message.includes('/late'))).toHaveLength(1);
  });
});

/** Sends the path exactly as written: clients such as fetch or supertest would resolve its dot segments. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', chunk => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dot segments and encoded slashes under an opened prefix', () => {
  let root: string;
  let backend: Awaited<ReturnType<typeof startTestBackend>>;
  let port: number;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'static-'));
    await mkdir(join(root, 'static'));
    await writeFile(join(root, 'static', 'ok.txt'), 'public file');
    await writeFile(join(root, 'secret.txt'), 'the secret');
    const plugin = createProbePlugin(async http => {
      http.use(express.static(root));
      http.addAuthPolicy({ path: '/static', allow: 'unauthenticated' });
    }, 'files');
    backend = await startTestBackend({
      features: [httpRouterServiceFactory, ...TEST_AUTH_SERVICES, plugin],
    });
    port = (backend.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await backend.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('serves the opened prefix and refuses the rest', async () => {
    expect(await rawGet(port, '/api/files/static/ok.txt')).toEqual({
      status: 200,
      body: 'public file',
    });
    expect((await rawGet(port, '/api/files/secret.txt')).status).toBe(401);
  });

  it.each([
    '/api/files/static/../secret.txt',
    '/api/files/static/%2e%2e/secret.txt',
    '/api/files/static/%2E./secret.txt',
    '/api/files/static/..%2fsecret.txt',
    '/api/files/static/./../secret.txt',
  ])(
    'refuses %s without credentials: a static handler above the prefix would serve a file outside it',
    async path => {
      const answer = await rawGet(port, path);
      expect(answer.status).toBe(401);
      expect(answer.body).not.toContain('the secret');
    },
  );

  it('still opens a path whose dot segments stay under the prefix', async () => {
    expect(await rawGet(port, '/api/files/static/./ok.txt')).toEqual({
      status: 200,
      body: 'public file',
    });
  });
});
