import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import { Router } from 'express';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { createRecordingLogger } from '../helpers/createRecordingLogger';
import { createProbePlugin } from '../helpers/createProbePlugin';
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
