import type { HttpRouterService } from '@backstage/backend-plugin-api';
import { mockCredentials } from '@backstage/backend-test-utils';
import { METRIC_NAMES } from '../../metrics';
import { createProbePlugin } from '../helpers/createProbePlugin';
import { createWebSocketPlugin } from '../helpers/createWebSocketPlugin';
import { startMetricsSdk } from '../helpers/metricsSdk';
import { startWebSocketBackend, type WebSocketBackend } from '../helpers/startWebSocketBackend';
import { closed, openWebSocket } from '../helpers/webSocketClient';
import { waitUntil } from '../rateLimit/redis/waitUntil';

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
