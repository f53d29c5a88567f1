import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { createLogCollector } from '../helpers/createLogCollector';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';

const SERVICE = mockCredentials.service.header();

describe('what clients and logs are told about budgets', () => {
  it('names the address budget, not an anonymous one, when it counts a service token', async () => {
    const logs = createLogCollector();
    const backend = await startCountingAuthBackend(
      {
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 1,
        userRequestLimit: 5,
        plugin: { example: {} },
      },
      logs,
    );
    try {
      const get = () =>
        request(backend.server).get('/api/example/hello?x=1').set('Authorization', SERVICE);
      expect((await get()).headers['ratelimit-policy']).toMatch(/^"plugin-example-address"; q=1;/);
      const refused = await get();
      expect(refused.status).toBe(429);
      expect(refused.body.error.message).toMatch(
        /^Too many requests: the address limit is 1 per 60 seconds/,
      );
      expect(refused.body.request).toEqual({ method: 'GET', url: '/api/example/hello?x=1' });
      expect(logs.messages('info').join('\n')).toMatch(
        /per principal: address 1, user 5, service per address/,
      );
      expect(JSON.stringify(logs.lines)).not.toContain('anonymous');
    } finally {
      await backend.stop();
    }
  });

  it('gives a 401 for a bad token the headers of the failed-authentication budget alone', async () => {
    const backend = await startCountingAuthBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 100,
      failedAuthenticationLimit: 20,
      plugin: { example: {} },
    });
    try {
      const res = await request(backend.server)
        .get('/api/example/hello')
        .set('Authorization', mockCredentials.user.invalidHeader());
      expect(res.status).toBe(401);
      expect(res.headers['x-ratelimit-limit']).toBe('20');
      expect(res.headers['x-ratelimit-remaining']).toBe('19');
      expect(res.headers['ratelimit-policy']).toMatch(
        /^"plugin-example-failed-authentication"; q=20;[^,]*$/,
      );
    } finally {
      await backend.stop();
    }
  });

  it('logs one shutdown warning per backend, however many plugins it has', async () => {
    const logs = createLogCollector();
    const backend = await startCountingAuthBackend({ global: false }, logs, [
      'one',
      'two',
      'three',
    ]);
    await backend.stop();
    expect(
      logs.messages('warn').filter(message => message.startsWith('Shutting down')),
    ).toHaveLength(1);
  });
});
