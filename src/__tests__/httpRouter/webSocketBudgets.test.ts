import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { createWebSocketPlugin, type WebSocketPlugin } from '../helpers/createWebSocketPlugin';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { redisRateLimit } from '../helpers/startRateLimitBackend';
import { startWebSocketBackend, type WebSocketBackend } from '../helpers/startWebSocketBackend';
import { openWebSocket, type UpgradeResult } from '../helpers/webSocketClient';

const OTHER_USER = 'user:default/other';

describe('WebSocket upgrades in the request budgets', () => {
  let backend: WebSocketBackend | undefined;
  let plugin: WebSocketPlugin;
  const opened: UpgradeResult[] = [];

  afterEach(async () => {
    opened.splice(0).forEach(result => result.opened && result.socket.terminate());
    await backend?.stop();
    backend = undefined;
  });

  async function start(rateLimit: JsonObject) {
    plugin = createWebSocketPlugin({
      routes: [{ path: '/' }, { path: '/open', authPolicy: 'unauthenticated' }],
    });
    backend = await startWebSocketBackend({ features: [plugin.feature], backend: { rateLimit } });
    await backend.started;
    return backend;
  }

  async function upgrade(path: string, options: Parameters<typeof openWebSocket>[1] = {}) {
    const result = await openWebSocket(backend!.wsUrl(path), options);
    opened.push(result);
    return result;
  }

  it('counts an upgrade with the HTTP requests of its address, and refuses it over the budget as HTTP does', async () => {
    const { baseUrl } = await start({
      global: false,
      ipAllowList: [],
      plugin: { example: { incomingRequestLimit: 2 } },
    });
    const first = await fetch(`${baseUrl}/api/example/nothing`);
    const second = await upgrade('/api/example/open');
    const refusedUpgrade = await upgrade('/api/example/open');
    const refusedRequest = await fetch(`${baseUrl}/api/example/nothing`);
    expect([first.status, second.status, refusedUpgrade.status, refusedRequest.status]).toEqual([
      401, 101, 429, 429,
    ]);
    if (refusedUpgrade.opened) return;
    for (const header of ['ratelimit-policy', 'retry-after', 'content-type']) {
      expect(refusedUpgrade.headers[header]).toBe(refusedRequest.headers.get(header));
    }
    expect(refusedUpgrade.headers.ratelimit).toMatch(/^"plugin-example"; r=0; t=\d+$/);
    const httpBody = (await refusedRequest.json()) as { error: object };
    expect(JSON.parse(refusedUpgrade.body)).toEqual({
      ...httpBody,
      error: { ...httpBody.error, message: expect.stringMatching(/^Too many requests/) },
      request: { method: 'GET', url: '/api/example/open' },
    });
    expect(plugin.upgrades).toHaveLength(1);
  });

  it('counts an upgrade in the budget of the user whose token it offers as the WebSocket protocol', async () => {
    await start({
      global: false,
      ipAllowList: [],
      plugin: { example: { incomingRequestLimit: 100, userRequestLimit: 1 } },
    });
    const protocols = [mockCredentials.user.token()];
    const first = await upgrade('/api/example', { protocols });
    const second = await upgrade('/api/example', { protocols });
    const otherUser = await upgrade('/api/example', {
      headers: { Authorization: mockCredentials.user.header(OTHER_USER) },
    });
    expect([first.status, second.status, otherUser.status]).toEqual([101, 429, 101]);
    expect(!second.opened && second.headers['ratelimit-policy']).toMatch(/^"plugin-example-user"/);
  });

  it("counts an upgrade in the budget of a route rule that matches its path under the plugin's mount", async () => {
    const { baseUrl } = await start({
      global: false,
      ipAllowList: [],
      plugin: { example: { routes: [{ name: 'open', path: '/open', incomingRequestLimit: 1 }] } },
    });
    const first = await upgrade('/api/example/open');
    const second = await upgrade('/api/example/open');
    const otherRoute = await fetch(`${baseUrl}/api/example/nothing`);
    expect([first.status, second.status, otherRoute.status]).toEqual([101, 429, 401]);
    expect(!second.opened && second.headers['ratelimit-policy']).toContain(
      '"plugin-example-open"; q=1;',
    );
  });

  it('cuts off a bad token offered again before verifying it, and lets a good one from its address in', async () => {
    await start({
      global: false,
      ipAllowList: [],
      plugin: { example: { userRequestLimit: 100, failedAuthenticationLimit: 1 } },
    });
    const bad = await upgrade('/api/example', { protocols: ['mock-invalid-user-token'] });
    const again = await upgrade('/api/example', { protocols: ['mock-invalid-user-token'] });
    const good = await upgrade('/api/example', { protocols: [mockCredentials.user.token()] });
    expect([bad.status, again.status, good.status]).toEqual([401, 429, 101]);
    expect(plugin.upgrades).toHaveLength(1);
  });

  it('counts upgrades of an unauthenticated route per address, whatever token they carry', async () => {
    await start({
      global: false,
      ipAllowList: [],
      plugin: { example: { incomingRequestLimit: 1, userRequestLimit: 100 } },
    });
    const headers = { Authorization: mockCredentials.user.header() };
    const first = await upgrade('/api/example/open', { headers });
    const second = await upgrade('/api/example/open', { headers });
    expect([first.status, second.status]).toEqual([101, 429]);
    expect(!second.opened && second.headers['ratelimit-policy']).toMatch(
      /^"plugin-example-address"/,
    );
  });

  it('counts upgrades in the all-plugins budget when no plugin has a block', async () => {
    await start({ ipAllowList: [], incomingRequestLimit: 1 });
    const first = await upgrade('/api/example/open');
    const second = await upgrade('/api/example/open');
    expect([first.status, second.status]).toEqual([101, 429]);
    expect(!second.opened && second.headers['ratelimit-policy']).toMatch(/^"global"/);
  });
});

describe('WebSocket upgrades in a Redis budget', () => {
  let redis: RedisServerHandle;
  const backends: WebSocketBackend[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    for (let i = 0; i < 2; i++) {
      const plugin = createWebSocketPlugin({
        routes: [{ path: '/open', authPolicy: 'unauthenticated' }],
      });
      const backend = await startWebSocketBackend({
        features: [plugin.feature],
        backend: { rateLimit: redisRateLimit(redis, { incomingRequestLimit: 2 }) },
      });
      await backend.started;
      backends.push(backend);
    }
  });

  afterAll(async () => {
    await Promise.all(backends.map(backend => backend.stop()));
    await redis.stop();
  });

  it('gives a client one budget of upgrades across two backend instances', async () => {
    const results = [];
    for (const backend of [backends[0], backends[1], backends[0]]) {
      const result = await openWebSocket(backend.wsUrl('/api/example/open'));
      if (result.opened) result.socket.terminate();
      results.push(result.status);
    }
    expect(results).toEqual([101, 101, 429]);
  });
});
