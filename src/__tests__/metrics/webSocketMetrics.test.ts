import { mockCredentials } from '@backstage/backend-test-utils';
import { METRIC_NAMES } from '../../metrics';
import { createWebSocketPlugin } from '../helpers/createWebSocketPlugin';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { startWebSocketBackend, type WebSocketBackend } from '../helpers/startWebSocketBackend';
import { openWebSocket } from '../helpers/webSocketClient';
import { waitUntil } from '../rateLimit/redis/waitUntil';

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
