import type { HttpAuthService } from '@backstage/backend-plugin-api';
import { ConfigReader } from '@backstage/config';
import { AuthenticationError } from '@backstage/errors';
import type { JsonObject } from '@backstage/types';
import express from 'express';
import request from 'supertest';
import { ERROR_CODES } from '../../errors';
import { readRateLimitOptions } from '../../rateLimit/config';
import { createRateLimitContext } from '../../rateLimit/context';
import { createRateLimitHandler } from '../../rateLimit/createRateLimitMiddleware';

const USER_TOKEN = 'Bearer user-token';
/** Verifies {@link USER_TOKEN} as one user and refuses anything else, as the plugin's httpAuth would. */
const httpAuth = {
  async credentials(req: { headers: { authorization?: string } }) {
    if (req.headers.authorization !== USER_TOKEN) throw new AuthenticationError('Invalid token');
    return { principal: { type: 'user', userEntityRef: 'user:default/mock' } };
  },
} as unknown as HttpAuthService;

const read = (rateLimit: JsonObject) =>
  readRateLimitOptions(new ConfigReader({ backend: { rateLimit } }));

describe('per-principal keys of backend.rateLimit', () => {
  it('leaves the options exactly as before when no per-principal key is set', () => {
    const settings = read({ plugin: { catalog: { incomingRequestLimit: 5 } } });
    expect(settings.global).not.toHaveProperty('principals');
    expect(settings.plugins.catalog).not.toHaveProperty('principals');
  });

  it.each([
    [{ userRequestLimit: 600 }, { user: 600 }],
    [{ serviceRequestLimit: 'unlimited' }, { service: 'unlimited' }],
    [{ serviceRequestLimit: '10000' }, { service: 10000 }],
    [{ failedAuthenticationLimit: 20 }, { failedAuthentication: 20 }],
  ])('reads %j at the top level', (keys, principals) => {
    expect(read(keys).global?.principals).toEqual(principals);
  });

  it('lets a plugin block inherit each key it leaves out', () => {
    const settings = read({
      userRequestLimit: 600,
      serviceRequestLimit: 'unlimited',
      plugin: { search: { userRequestLimit: 60 }, catalog: {} },
    });
    expect(settings.plugins.search.principals).toEqual({ user: 60, service: 'unlimited' });
    expect(settings.plugins.catalog.principals).toEqual({ user: 600, service: 'unlimited' });
    expect(Object.isFrozen(settings.plugins.search.principals)).toBe(true);
  });

  it.each([
    ['userRequestLimit', 0, 'backend.rateLimit.userRequestLimit'],
    ['userRequestLimit', 1.5, 'backend.rateLimit.userRequestLimit'],
    ['serviceRequestLimit', 'lots', 'backend.rateLimit.serviceRequestLimit'],
    ['failedAuthenticationLimit', 'unlimited', 'backend.rateLimit.failedAuthenticationLimit'],
    ['failedAuthenticationLimit', -1, 'backend.rateLimit.failedAuthenticationLimit'],
  ])('refuses %s: %j, naming %s', (key, value, fullKey) => {
    expect(() => read({ [key]: value })).toThrow(
      expect.objectContaining({ code: ERROR_CODES.config, key: fullKey }),
    );
  });

  it('names the plugin block of a bad value', () => {
    expect(() => read({ plugin: { catalog: { userRequestLimit: 'many' } } })).toThrow(
      expect.objectContaining({ key: 'backend.rateLimit.plugin.catalog.userRequestLimit' }),
    );
  });

  it('suggests the right spelling of a misspelt key', () => {
    expect(read({ userRequestLimt: 5 }).warnings).toEqual([
      "Unknown config key 'backend.rateLimit.userRequestLimt' is ignored; did you mean 'backend.rateLimit.userRequestLimit'?",
    ]);
  });
});

describe('the all-plugins limiter with top-level per-principal budgets', () => {
  /** The all-plugins limiter of the root router, and the catalog plugin's router at `pluginMount` when given. */
  function setup(rateLimit: JsonObject, pluginMount?: string) {
    const config = new ConfigReader({ backend: { rateLimit } });
    const context = createRateLimitContext({ config });
    const app = express();
    app.use(createRateLimitHandler(context, {}));
    if (pluginMount) {
      app.use(
        pluginMount,
        createRateLimitHandler(context, {
          pluginId: 'catalog',
          httpAuth,
          countsAllPlugins: true,
          mountPath: pluginMount,
        }),
      );
    }
    app.get(['/ok', '/api/catalog/ok'], (_req, res) => {
      res.json({ ok: true });
    });
    return app;
  }

  it('leaves requests with credentials to the plugin router they reach, and counts the others per address', async () => {
    const app = setup(
      { ipAllowList: [], incomingRequestLimit: 2, userRequestLimit: 5 },
      '/api/catalog',
    );
    const withToken = () => request(app).get('/api/catalog/ok').set('Authorization', USER_TOKEN);
    // The plugin router makes itself known to the root router with its first request, which counts once, at
    // the root, per address.
    expect((await withToken()).status).toBe(200);
    for (let i = 0; i < 4; i++) {
      expect((await withToken()).status).toBe(200);
    }
    expect((await request(app).get('/ok')).status).toBe(200);
    expect((await request(app).get('/ok')).status).toBe(429);
  });

  it('counts the user budget across plugin routers once they are known, whatever the address budget', async () => {
    const app = setup(
      { ipAllowList: [], incomingRequestLimit: 1, userRequestLimit: 3 },
      '/api/catalog',
    );
    const withToken = () => request(app).get('/api/catalog/ok').set('Authorization', USER_TOKEN);
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await withToken()).status);
    }
    // The first counts per address at the root; then three in the user budget, and the fifth is refused.
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });

  it('counts requests with credentials that reach no plugin router of ours', async () => {
    const app = setup({ ipAllowList: [], incomingRequestLimit: 1, userRequestLimit: 5 });
    const withToken = () => request(app).get('/api/catalog/ok').set('Authorization', USER_TOKEN);
    expect((await withToken()).status).toBe(200);
    expect((await withToken()).status).toBe(429);
  });

  it('counts every request per address without per-principal budgets, as before', async () => {
    const app = setup({ ipAllowList: [], incomingRequestLimit: 1 });
    const withToken = () => request(app).get('/ok').set('Authorization', USER_TOKEN);
    expect((await withToken()).status).toBe(200);
    expect((await withToken()).status).toBe(429);
  });
});
