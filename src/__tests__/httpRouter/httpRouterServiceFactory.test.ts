import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { TEST_AUTH_SERVICES, TEST_PUBLIC_KEY } from '../helpers/testAuthServices';
import { createRecordingLogger } from '../helpers/createRecordingLogger';

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
