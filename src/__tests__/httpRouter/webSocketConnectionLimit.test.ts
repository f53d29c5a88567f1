import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { createWebSocketPlugin, type WebSocketPlugin } from '../helpers/createWebSocketPlugin';
import { startWebSocketBackend, type WebSocketBackend } from '../helpers/startWebSocketBackend';
import { openWebSocket, type UpgradeResult } from '../helpers/webSocketClient';
import { waitUntil } from '../rateLimit/redis/waitUntil';

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
