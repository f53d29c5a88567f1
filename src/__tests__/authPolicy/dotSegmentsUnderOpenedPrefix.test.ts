import { startTestBackend } from '@backstage/backend-test-utils';
import express from 'express';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createProbePlugin } from '../helpers/createProbePlugin';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

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
