import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import express, { Router } from 'express';
import request from 'supertest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { createProbePlugin } from '../helpers/createProbePlugin';
import { createRecordingLogger } from '../helpers/createRecordingLogger';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

/**
 * A plugin with a case-sensitive router serving `/cs/public` and a protected `/cs/PUBLIC`, which opens
 * `/cs/public` at start-up and opens `/late` when `POST /open-late` is called after start-up.
 */
const caseSensitivePlugin = createProbePlugin(async http => {
  const router = Router({ caseSensitive: true });
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
