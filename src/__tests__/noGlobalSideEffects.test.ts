import { mockCredentials } from '@backstage/backend-test-utils';
import express from 'express';
import request from 'supertest';
import { describeShared } from './helpers/describeShared';
import { startRateLimitBackend } from './helpers/startRateLimitBackend';

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
});
