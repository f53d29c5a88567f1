import type { JsonObject } from '@backstage/types';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import request from 'supertest';
import { createCookieAuthRefreshMiddleware } from '../../index';
import { createCredentialsBarrier } from '../../middleware/createCredentialsBarrier';
import { createTestApp } from '../helpers/createTestApp';
import { createTestLifecycle } from '../helpers/createTestLifecycle';

function setup(config: JsonObject = {}) {
  const logger = mockServices.logger.mock();
  const barrier = createCredentialsBarrier({
    httpAuth: mockServices.httpAuth({ defaultCredentials: mockCredentials.none() }),
    config: mockServices.rootConfig({ data: config }),
    pluginId: 'catalog',
    logger,
  });
  const app = createTestApp(barrier.middleware, (req, res) => {
    res.json({ path: req.path });
  });
  return { app, logger, ...barrier };
}

describe('createCredentialsBarrier', () => {
  it('refuses a request without credentials, then lets it through once an unauthenticated policy covers it', async () => {
    const { app, addAuthPolicy } = setup();
    const refused = await request(app).get('/static/logo.png');
    expect(refused.status).toBe(401);
    expect(refused.body.error.name).toBe('AuthenticationError');

    addAuthPolicy({ path: '/static', allow: 'unauthenticated' });

    expect((await request(app).get('/static/logo.png')).status).toBe(200);
    expect((await request(app).get('/other')).status).toBe(401);
  });

  it('opens an express 4 path with the meaning express 4 gives it', async () => {
    const { app, addAuthPolicy } = setup();
    addAuthPolicy({ path: '/files/*', allow: 'unauthenticated' });

    expect((await request(app).get('/files/a/b.txt')).status).toBe(200);
    expect((await request(app).get('/files')).status).toBe(401);
    expect((await request(app).get('/filesx/a')).status).toBe(401);
  });

  it('answers what its policies ask of a path, as the middleware reads it', () => {
    const { addAuthPolicy, lookupAccess } = setup();
    addAuthPolicy({ path: '/static', allow: 'unauthenticated' });
    addAuthPolicy({ path: '/profile', allow: 'user-cookie' });

    expect(lookupAccess('/static/logo.png')).toBe('unauthenticated');
    expect(lookupAccess('/profile')).toBe('user-cookie');
    expect(lookupAccess('/other')).toBeUndefined();
    // Through dot segments, the stricter answer of the raw and the resolved path.
    expect(lookupAccess('/static/../secret.txt')).toBeUndefined();
  });

  it.each([
    ['user', mockCredentials.user.header()],
    ['service', mockCredentials.service.header()],
  ])('lets %s credentials through without any policy', async (_name, header) => {
    const { app } = setup();
    expect((await request(app).get('/anything').set('Authorization', header)).status).toBe(200);
  });

  it('refuses limited user credentials until a user-cookie policy covers the path', async () => {
    const { app, addAuthPolicy } = setup();
    const cookie = mockCredentials.limitedUser.cookie();
    expect((await request(app).get('/assets/app.js').set('Cookie', cookie)).status).toBe(401);

    addAuthPolicy({ path: '/assets', allow: 'user-cookie' });

    expect((await request(app).get('/assets/app.js').set('Cookie', cookie)).status).toBe(200);
    expect((await request(app).get('/assets/app.js')).status).toBe(401);
    expect((await request(app).get('/api').set('Cookie', cookie)).status).toBe(401);
  });

  it('lets unauthenticated win when both kinds of policy cover a path', async () => {
    const { app, addAuthPolicy } = setup();
    addAuthPolicy({ path: '/docs', allow: 'user-cookie' });
    addAuthPolicy({ path: '/docs', allow: 'unauthenticated' });
    expect((await request(app).get('/docs/index.html')).status).toBe(200);
  });

  it('refuses an invalid token even on a user-cookie path', async () => {
    const { app, addAuthPolicy } = setup();
    addAuthPolicy({ path: '/assets', allow: 'user-cookie' });
    const res = await request(app)
      .get('/assets/x')
      .set('Authorization', mockCredentials.user.invalidHeader());
    expect(res.status).toBe(401);
  });

  it('lists the policies in the order they were added', () => {
    const { addAuthPolicy, authPolicies } = setup();
    addAuthPolicy({ path: '/a', allow: 'unauthenticated' });
    addAuthPolicy({ path: '/b', allow: 'user-cookie' });
    expect(authPolicies()).toEqual([
      { path: '/a', allow: 'unauthenticated' },
      { path: '/b', allow: 'user-cookie' },
    ]);
  });

  it('logs the opened paths at start-up, then each policy added later, and a refused one not at all', async () => {
    const logger = mockServices.logger.mock();
    const { lifecycle, startup } = createTestLifecycle();
    const { addAuthPolicy } = createCredentialsBarrier({
      httpAuth: mockServices.httpAuth({ defaultCredentials: mockCredentials.none() }),
      config: mockServices.rootConfig(),
      pluginId: 'catalog',
      logger,
      lifecycle,
    });
    addAuthPolicy({ path: '/a', allow: 'unauthenticated' });
    expect(logger.info).not.toHaveBeenCalled();

    await startup();
    addAuthPolicy({ path: '/b', allow: 'user-cookie' });
    expect(() => addAuthPolicy({ path: '/c', allow: 'nobody' as never })).toThrow();

    expect(logger.info.mock.calls).toEqual([
      ["Auth policies for plugin 'catalog': /a (unauthenticated)"],
      ["Auth policy added to plugin 'catalog' after start-up: /b (user-cookie)"],
    ]);
  });

  it.each([
    [
      'an unknown allow value',
      { path: '/x', allow: 'everyone' },
      ['catalog', '"/x"', '"everyone"', "'unauthenticated', 'user-cookie'"],
    ],
    ['a missing allow value', { path: '/x' }, ['catalog', '"/x"', 'undefined']],
    [
      'a path that is not a string',
      { path: 42, allow: 'unauthenticated' },
      ['catalog', '42', 'non-empty string'],
    ],
    [
      'an empty path',
      { path: '', allow: 'unauthenticated' },
      ['catalog', '""', 'non-empty string'],
    ],
    ['no object at all', null, ['catalog', '{ path, allow }']],
    [
      'a path neither router syntax reads',
      { path: '/a(b', allow: 'unauthenticated' },
      ['catalog', '"/a(b"', 'position 2', 'Accepted:'],
    ],
  ])(
    'rejects %s with an error naming the plugin, the path and what is allowed',
    (_name, policy, fragments) => {
      const { addAuthPolicy, authPolicies } = setup();
      const add = () => addAuthPolicy(policy as never);
      expect(add).toThrow(
        expect.objectContaining({ code: 'ERR_HTTP_ROUTER_AUTH_POLICY', pluginId: 'catalog' }),
      );
      for (const fragment of fragments) {
        expect(add).toThrow(fragment);
      }
      expect(authPolicies()).toEqual([]);
    },
  );

  it('lets everything through and warns once when the default policy is dangerously disabled', async () => {
    const { app, logger, addAuthPolicy } = setup({
      backend: { auth: { dangerouslyDisableDefaultAuthPolicy: true } },
    });
    expect((await request(app).get('/anything')).status).toBe(200);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining('backend.auth.dangerouslyDisableDefaultAuthPolicy'),
    );
    expect(() => addAuthPolicy({ path: '/x', allow: 'nobody' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_HTTP_ROUTER_AUTH_POLICY' }),
    );
  });

  it('fails at creation when dangerouslyDisableDefaultAuthPolicy is not a boolean', () => {
    expect(() =>
      setup({ backend: { auth: { dangerouslyDisableDefaultAuthPolicy: 'maybe' } } }),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_HTTP_ROUTER_CONFIG',
        key: 'backend.auth.dangerouslyDisableDefaultAuthPolicy',
      }),
    );
  });
});

describe('createCookieAuthRefreshMiddleware, which issues the cookie that user-cookie policies accept', () => {
  function setup() {
    const auth = mockServices.auth({ pluginId: 'catalog' });
    const httpAuth = mockServices.httpAuth({
      pluginId: 'catalog',
      defaultCredentials: mockCredentials.none(),
    });
    return createTestApp(createCookieAuthRefreshMiddleware({ auth, httpAuth }));
  }

  it('issues the user cookie and answers when it expires', async () => {
    const res = await request(setup())
      .get('/.backstage/auth/v1/cookie')
      .set('Authorization', mockCredentials.user.header());
    expect(res.status).toBe(200);
    expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now());
    expect(new Date(res.body.expiresAt).toISOString()).toBe(res.body.expiresAt);
    expect(res.headers['set-cookie']).toEqual([
      expect.stringContaining(`${mockCredentials.limitedUser.cookie()}`),
    ]);
  });

  it('refuses to issue a cookie without user credentials', async () => {
    const res = await request(setup()).get('/.backstage/auth/v1/cookie');
    expect(res.status).toBe(401);
  });

  it('clears the cookie with 204', async () => {
    const res = await request(setup())
      .delete('/.backstage/auth/v1/cookie')
      .set('Authorization', mockCredentials.user.header());
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
  });
});
