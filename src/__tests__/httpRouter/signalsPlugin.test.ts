import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import signalsPlugin from '@backstage/plugin-signals-backend';
import { startWebSocketBackend, type WebSocketBackend } from '../helpers/startWebSocketBackend';
import { openWebSocket } from '../helpers/webSocketClient';

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
