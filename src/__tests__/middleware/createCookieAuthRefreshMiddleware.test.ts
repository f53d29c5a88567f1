import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import request from 'supertest';
import { createCookieAuthRefreshMiddleware } from '../../index';
import { createTestApp } from '../helpers/createTestApp';

describe('createCookieAuthRefreshMiddleware', () => {
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
