import { mockCredentials } from '@backstage/backend-test-utils';
import { createWebSocketPlugin } from '../helpers/createWebSocketPlugin';
import { describeShared } from '../helpers/describeShared';
import { startWebSocketBackend } from '../helpers/startWebSocketBackend';
import { openWebSocket } from '../helpers/webSocketClient';

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
