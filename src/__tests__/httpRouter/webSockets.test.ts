import type { HttpRouterService } from '@backstage/backend-plugin-api';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import signalsPlugin from '@backstage/plugin-signals-backend';
import { METRIC_NAMES } from '../../metrics';
import { createProbePlugin } from '../helpers/createProbePlugin';
import { createWebSocketPlugin, type WebSocketPlugin } from '../helpers/createWebSocketPlugin';
import { describeShared } from '../helpers/describeShared';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { redisRateLimit } from '../helpers/startRateLimitBackend';
import { startWebSocketBackend, type WebSocketBackend } from '../helpers/startWebSocketBackend';
import { closed, openWebSocket, type UpgradeResult } from '../helpers/webSocketClient';
import { waitUntil } from '../helpers/waitUntil';

/** A promise the test settles by hand. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>(done => (resolve = done));
  return { promise, resolve };
}

const USER_REF = 'user:default/mock';

describe('WebSocket routes of a plugin', () => {
  let backend: WebSocketBackend | undefined;
  afterEach(async () => {
    await backend?.stop();
    backend = undefined;
  });

  async function start(plugin: {
    feature: Parameters<typeof startWebSocketBackend>[0]['features'][number];
  }) {
    backend = await startWebSocketBackend({ features: [plugin.feature] });
    await backend.started;
    return backend;
  }

  it('hands an upgrade with a user token in Authorization to the handler, with the user credentials', async () => {
    const plugin = createWebSocketPlugin();
    const { wsUrl } = await start(plugin);
    const result = await openWebSocket(wsUrl('/api/example'), {
      headers: { Authorization: mockCredentials.user.header() },
    });
    expect(result.status).toBe(101);
    expect(plugin.upgrades).toHaveLength(1);
    expect(plugin.upgrades[0].credentials.principal).toEqual(
      expect.objectContaining({ type: 'user', userEntityRef: USER_REF }),
    );
    expect(plugin.upgrades[0].authProtocol).toBeUndefined();
    if (result.opened) result.socket.close();
  });

  it('authenticates a token offered as a WebSocket protocol and tells the handler which one it was', async () => {
    const plugin = createWebSocketPlugin();
    const { wsUrl } = await start(plugin);
    const result = await openWebSocket(wsUrl('/api/example'), {
      protocols: ['chat', mockCredentials.user.token()],
    });
    expect(result.status).toBe(101);
    expect(plugin.upgrades[0].authProtocol).toBe(mockCredentials.user.token());
    if (result.opened) {
      expect(result.protocol).toBe(mockCredentials.user.token());
      result.socket.close();
    }
  });

  it('refuses an upgrade without credentials with 401 and the Backstage error body, before the handler', async () => {
    const plugin = createWebSocketPlugin();
    const { wsUrl } = await start(plugin);
    const result = await openWebSocket(wsUrl('/api/example?x=1'));
    expect(result.status).toBe(401);
    expect(!result.opened && JSON.parse(result.body)).toEqual({
      error: expect.objectContaining({ name: 'AuthenticationError' }),
      request: { method: 'GET', url: '/api/example?x=1' },
      response: { statusCode: 401 },
    });
    expect(plugin.upgrades).toHaveLength(0);
  });

  it('refuses an upgrade with an invalid token and one offering more than five candidates with 401', async () => {
    const plugin = createWebSocketPlugin();
    const { wsUrl } = await start(plugin);
    const invalid = await openWebSocket(wsUrl('/api/example'), {
      headers: { Authorization: mockCredentials.user.invalidHeader() },
    });
    const tooMany = await openWebSocket(wsUrl('/api/example'), {
      protocols: ['a', 'b', 'c', 'd', 'e', mockCredentials.user.token()],
    });
    expect([invalid.status, tooMany.status]).toEqual([401, 401]);
    expect(plugin.upgrades).toHaveLength(0);
  });

  it('hands an upgrade of an unauthenticated route to the handler with none credentials', async () => {
    const plugin = createWebSocketPlugin({
      routes: [{ path: '/open', authPolicy: 'unauthenticated' }],
    });
    const { wsUrl } = await start(plugin);
    const result = await openWebSocket(wsUrl('/api/example/open'));
    expect(result.status).toBe(101);
    expect(plugin.upgrades[0].credentials.principal).toEqual({ type: 'none' });
    if (result.opened) result.socket.close();
  });

  it('matches the exact path: a sub-path or a trailing slash is not the route', async () => {
    const plugin = createWebSocketPlugin({
      routes: [{ path: '/open', authPolicy: 'unauthenticated' }],
    });
    const { wsUrl } = await start(plugin);
    const results = [
      await openWebSocket(wsUrl('/api/example/open/more')),
      await openWebSocket(wsUrl('/api/example/open/')),
    ];
    expect(results.map(result => result.status)).toEqual([404, 404]);
    expect(plugin.upgrades).toHaveLength(0);
  });

  it('mounts the routes under the path getPath gives the plugin', async () => {
    const plugin = createWebSocketPlugin({
      routes: [{ path: '/open', authPolicy: 'unauthenticated' }],
    });
    const { httpRouterServiceFactory } = await import('../../httpRouter/httpRouterServiceFactory');
    backend = await startWebSocketBackend({
      features: [httpRouterServiceFactory({ getPath: id => `/custom/${id}` }), plugin.feature],
    });
    await backend.started;
    const result = await openWebSocket(backend.wsUrl('/custom/example/open'));
    expect(result.status).toBe(101);
    if (result.opened) result.socket.close();
  });

  it('holds an upgrade that arrives before the plugin started, and hands it over once it has', async () => {
    const sdk = startMetricsSdk();
    try {
      const startup = deferred();
      const plugin = createWebSocketPlugin({ startup: startup.promise });
      backend = await startWebSocketBackend({ features: [plugin.feature] });
      await plugin.initialized;
      const opening = openWebSocket(backend.wsUrl('/api/example'), {
        headers: { Authorization: mockCredentials.user.header() },
      });
      await waitUntil('the upgrade waits for the start-up', async () =>
        (await sdk.collect()).some(
          point => point.name === METRIC_NAMES.lifecycleWaiting && point.value === 1,
        ),
      );
      expect(plugin.upgrades).toHaveLength(0);
      startup.resolve();
      const result = await opening;
      expect(result.status).toBe(101);
      expect(plugin.upgrades).toHaveLength(1);
      if (result.opened) result.socket.close();
    } finally {
      await sdk.stop();
    }
  });

  it('refuses an upgrade with 503 and Retry-After while the plugin shuts down, counted as lifecycle_refused', async () => {
    const sdk = startMetricsSdk();
    const shutdownStarted = deferred();
    const held = deferred();
    const plugin = createWebSocketPlugin({
      shutdown: { started: shutdownStarted.resolve, held: held.promise },
    });
    try {
      const { wsUrl } = await start(plugin);
      const stopping = backend!.stop();
      await shutdownStarted.promise;
      const result = await openWebSocket(wsUrl('/api/example'), {
        headers: { Authorization: mockCredentials.user.header() },
      });
      held.resolve();
      await stopping;
      backend = undefined;
      expect(result.status).toBe(503);
      expect(!result.opened && result.headers['retry-after']).toBe('5');
      expect(plugin.upgrades).toHaveLength(0);
      const outcomes = (await sdk.collect())
        .filter(point => point.name === METRIC_NAMES.webSocketUpgrades)
        .map(point => `${point.attributes.outcome} ${point.value}`);
      expect(outcomes).toEqual(['lifecycle_refused 1']);
    } finally {
      await sdk.stop();
    }
  });

  it('closes the open WebSockets when the backend stops', async () => {
    const plugin = createWebSocketPlugin();
    const { wsUrl } = await start(plugin);
    const result = await openWebSocket(wsUrl('/api/example'), {
      headers: { Authorization: mockCredentials.user.header() },
    });
    expect(result.status).toBe(101);
    if (!result.opened) return;
    const closing = closed(result.socket);
    await backend!.stop();
    backend = undefined;
    await closing;
    expect(plugin.sockets[0].readyState).toBe(plugin.sockets[0].CLOSED);
  });

  it('refuses a path without a leading slash, a second handler on one path and an unknown authPolicy, naming the plugin', async () => {
    const handler = () => undefined;
    const errors: Error[] = [];
    const probe = createProbePlugin(http => {
      const attempts: Array<Parameters<HttpRouterService['addWebSocketHandler']>[0]> = [
        { path: 'events', handler },
        { path: '/events', handler },
        { path: '/events', handler },
        { path: '/other', handler, authPolicy: 'user-cookie' as 'unauthenticated' },
      ];
      for (const attempt of attempts) {
        try {
          http.addWebSocketHandler(attempt);
        } catch (error) {
          errors.push(error as Error);
        }
      }
    });
    const backend = await startWebSocketBackend({ features: [probe] });
    await backend.started;
    await backend.stop();
    expect(errors.map(error => error.message)).toEqual([
      "addWebSocketHandler() of plugin 'probe' expects a path starting with '/', got \"events\"",
      "addWebSocketHandler() of plugin 'probe' could not register '/api/probe/events': WebSocket handler already registered for /api/probe/events",
      "addWebSocketHandler() of plugin 'probe' expects authPolicy 'unauthenticated' or none, got \"user-cookie\"",
    ]);
  });
});

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

const alice = { Authorization: mockCredentials.user.header('user:default/alice') };
const bob = { Authorization: mockCredentials.user.header('user:default/bob') };

describe('webSocketConnectionLimit', () => {
  let backend: WebSocketBackend | undefined;
  const opened: UpgradeResult[] = [];

  afterEach(async () => {
    opened.splice(0).forEach(result => result.opened && result.socket.terminate());
    await backend?.stop();
    backend = undefined;
  });

  async function start(rateLimit: JsonObject, plugins: WebSocketPlugin[]) {
    backend = await startWebSocketBackend({
      features: plugins.map(plugin => plugin.feature),
      backend: { rateLimit },
    });
    await backend.started;
  }

  async function upgrade(path: string, headers?: Record<string, string>) {
    const result = await openWebSocket(backend!.wsUrl(path), { headers });
    opened.push(result);
    return result;
  }

  it('refuses one WebSocket more than the limit with 429, and accepts the next once one has closed', async () => {
    const plugin = createWebSocketPlugin();
    await start({ global: false, plugin: { example: { webSocketConnectionLimit: 2 } } }, [plugin]);
    const first = await upgrade('/api/example', alice);
    const second = await upgrade('/api/example', alice);
    const third = await upgrade('/api/example', alice);
    expect([first.status, second.status, third.status]).toEqual([101, 101, 429]);
    expect(!third.opened && JSON.parse(third.body).error).toEqual({
      name: 'TooManyRequestsError',
      message: "Too many open WebSockets: at most 2 per client in plugin 'example'",
    });
    expect(!third.opened && third.headers['retry-after']).toBe('1');

    if (first.opened) first.socket.close();
    await waitUntil(
      'the server saw the socket close',
      () => plugin.sockets[0].readyState === plugin.sockets[0].CLOSED,
    );
    const fourth = await upgrade('/api/example', alice);
    expect(fourth.status).toBe(101);
  });

  it('counts each user on their own, and upgrades without credentials per address', async () => {
    const plugin = createWebSocketPlugin({
      routes: [{ path: '/' }, { path: '/open', authPolicy: 'unauthenticated' }],
    });
    await start({ global: false, plugin: { example: { webSocketConnectionLimit: 1 } } }, [plugin]);
    const results = [
      await upgrade('/api/example', alice),
      await upgrade('/api/example', bob),
      await upgrade('/api/example', alice),
      await upgrade('/api/example/open'),
      await upgrade('/api/example/open', alice),
    ];
    expect(results.map(result => result.status)).toEqual([101, 101, 429, 101, 429]);
  });

  it('at the top level, limits the WebSockets of one user across all plugins', async () => {
    const example = createWebSocketPlugin();
    const other = createWebSocketPlugin({ pluginId: 'other' });
    await start({ webSocketConnectionLimit: 1 }, [example, other]);
    const first = await upgrade('/api/example', alice);
    const second = await upgrade('/api/other', alice);
    expect([first.status, second.status]).toEqual([101, 429]);
    expect(!second.opened && JSON.parse(second.body).error.message).toBe(
      'Too many open WebSockets: at most 1 per client across all plugins',
    );
  });

  it('leaves WebSockets unlimited by default', async () => {
    const plugin = createWebSocketPlugin();
    await start({ global: false, plugin: { example: {} } }, [plugin]);
    const results = [];
    for (let i = 0; i < 5; i++) {
      results.push((await upgrade('/api/example', alice)).status);
    }
    expect(results).toEqual([101, 101, 101, 101, 101]);
  });
});

describe('a backend answering WebSocket upgrades', () => {
  it('adds no property to express.request, express.response or Node’s HTTP prototypes', async () => {
    const before = describeShared();
    const plugin = createWebSocketPlugin();
    const backend = await startWebSocketBackend({
      features: [plugin.feature],
      backend: {
        rateLimit: {
          global: false,
          ipAllowList: [],
          plugin: { example: { incomingRequestLimit: 1 } },
        },
      },
    });
    try {
      await backend.started;
      const headers = { Authorization: mockCredentials.user.header() };
      const accepted = await openWebSocket(backend.wsUrl('/api/example'), { headers });
      const refused = await openWebSocket(backend.wsUrl('/api/example'), { headers });
      expect([accepted.status, refused.status]).toEqual([101, 429]);
      if (accepted.opened) accepted.socket.terminate();
    } finally {
      await backend.stop();
    }
    expect(describeShared()).toEqual(before);
  });
});

describe('the signals plugin behind our routers', () => {
  let backend: WebSocketBackend;
  beforeAll(async () => {
    backend = await startWebSocketBackend({
      features: [signalsPlugin, mockServices.userInfo.factory(), mockServices.events.factory()],
    });
    await backend.started;
  });
  afterAll(() => backend.stop());

  it('starts, and answers its open health route', async () => {
    const res = await fetch(`${backend.baseUrl}/api/signals/health`);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('opens its socket for a user token offered as the WebSocket protocol, as its browser client sends it', async () => {
    const result = await openWebSocket(backend.wsUrl('/api/signals'), {
      protocols: [mockCredentials.user.token()],
    });
    expect(result.opened && result.protocol).toBe(mockCredentials.user.token());
    if (result.opened) result.socket.close();
  });

  it('refuses an upgrade without a token with 401 before the plugin sees it', async () => {
    const result = await openWebSocket(backend.wsUrl('/api/signals'));
    expect(result.status).toBe(401);
  });
});

describe('WebSocket metrics', () => {
  let sdk: MetricsSdk;
  let backend: WebSocketBackend;
  const plugin = createWebSocketPlugin();

  beforeAll(async () => {
    sdk = startMetricsSdk();
    backend = await startWebSocketBackend({
      features: [plugin.feature],
      backend: {
        rateLimit: { global: false, plugin: { example: { webSocketConnectionLimit: 1 } } },
      },
    });
    await backend.started;
  });
  afterAll(async () => {
    await backend.stop();
    await sdk.stop();
  });

  async function pointsOf(name: string) {
    return (await sdk.collect())
      .filter(point => point.name === name)
      .map(({ attributes, value }) => ({ attributes, value }));
  }

  it('counts upgrades by outcome and the open WebSockets of the plugin, with bounded attributes', async () => {
    const headers = { Authorization: mockCredentials.user.header() };
    const accepted = await openWebSocket(backend.wsUrl('/api/example'), { headers });
    await openWebSocket(backend.wsUrl('/api/example'), { headers });
    await openWebSocket(backend.wsUrl('/api/example'));
    expect(await pointsOf(METRIC_NAMES.webSocketUpgrades)).toEqual(
      expect.arrayContaining([
        { attributes: { plugin: 'example', outcome: 'accepted' }, value: 1 },
        { attributes: { plugin: 'example', outcome: 'limited' }, value: 1 },
        { attributes: { plugin: 'example', outcome: 'unauthenticated' }, value: 1 },
      ]),
    );
    expect(await pointsOf(METRIC_NAMES.webSocketsOpen)).toEqual([
      { attributes: { plugin: 'example' }, value: 1 },
    ]);

    if (accepted.opened) accepted.socket.close();
    await waitUntil('the open WebSockets gauge is back to 0', async () =>
      (await pointsOf(METRIC_NAMES.webSocketsOpen)).every(point => point.value === 0),
    );
  });
});
