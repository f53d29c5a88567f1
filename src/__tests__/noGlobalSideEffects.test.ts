import { IncomingMessage, ServerResponse } from 'node:http';
import { mockCredentials } from '@backstage/backend-test-utils';
import express from 'express';
import request from 'supertest';
import { createWebSocketPlugin } from './helpers/createWebSocketPlugin';
import { startRateLimitBackend } from './helpers/startRateLimitBackend';
import { startWebSocketBackend } from './helpers/startWebSocketBackend';
import { openWebSocket } from './helpers/webSocketClient';

/** The objects every express app (and every Node HTTP server) in the process shares. */
const SHARED: Array<[string, object]> = [
  ['express.request', express.request],
  ['express.response', express.response],
  ['http.IncomingMessage.prototype', IncomingMessage.prototype],
  ['http.ServerResponse.prototype', ServerResponse.prototype],
];

function describeShared(): Record<string, string[]> {
  return Object.fromEntries(
    SHARED.map(([name, object]) => [name, Reflect.ownKeys(object).map(String).sort()]),
  );
}

describe('a backend with rate limiting', () => {
  it('adds no property to express.request, express.response or Node’s HTTP prototypes', async () => {
    const before = describeShared();
    const backend = await startRateLimitBackend({
      ipAllowList: [],
      incomingRequestLimit: 2,
      plugin: { example: {} },
    });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await request(backend.server)
          .get('/api/example/hello')
          .set('Authorization', mockCredentials.user.header());
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await backend.stop();
    }
    expect(describeShared()).toEqual(before);

    // The symptom users would see: a request of an unrelated app, never counted, has no rateLimit.
    const unrelated = express().get('/', (req, res) => {
      res.json({ rateLimit: 'rateLimit' in req });
    });
    expect((await request(unrelated).get('/')).body).toEqual({ rateLimit: false });
  });

  it('patches no shared prototype when it answers WebSocket upgrades through express', async () => {
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
