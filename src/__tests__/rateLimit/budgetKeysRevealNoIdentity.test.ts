import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';

const USER_REF = 'user:default/jane.doe';
const ADDRESSES = ['127.0.0.1', '::ffff:127.0.0.1', '::1'];

/** Every way express-rate-limit's partition key could spell an unkeyed digest of `value`. */
function unkeyedDigests(value: string): string[] {
  const hex = createHash('sha256').update(value).digest('hex');
  return [hex.slice(0, 12), Buffer.from(hex.slice(0, 12)).toString('base64'), value];
}

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

describe.each([
  ['memory', (): JsonObject => ({ type: 'memory' })],
  ['redis', (): JsonObject => ({ type: 'redis', connection: redis.url })],
])('budget keys with the %s store', (name, store) => {
  it('let no header value or store key be traced back to the user or the address', async () => {
    const backend = await startCountingAuthBackend({
      ipAllowList: [],
      userRequestLimit: 10,
      failedAuthenticationLimit: 10,
      store: store(),
      plugin: { example: {} },
    });
    try {
      const answers = await Promise.all([
        request(backend.server)
          .get('/api/example/hello')
          .set('Authorization', mockCredentials.user.header(USER_REF)),
        request(backend.server).get('/api/example/hello'),
        request(backend.server)
          .get('/api/example/hello')
          .set('Authorization', mockCredentials.user.invalidHeader()),
      ]);
      const headers = JSON.stringify(answers.map(res => res.headers));
      expect(headers).toMatch(/pk=:/);
      for (const secret of [USER_REF, ...ADDRESSES].flatMap(unkeyedDigests)) {
        expect(headers).not.toContain(secret);
      }
      if (name === 'redis') {
        const keys = await redis.cli('KEYS', 'rl:*');
        expect(keys).toMatch(/rl:plugin:example:user:/);
        expect(keys).not.toMatch(/jane|127\.0\.0\.1|::1/);
      }
    } finally {
      await backend.stop();
    }
  });
});

it('shares the key secret of instances on one Redis, so that they share budgets', async () => {
  const rateLimit = {
    global: false,
    ipAllowList: [],
    incomingRequestLimit: 3,
    store: { type: 'redis', connection: redis.url },
    plugin: { other: {} },
  };
  const first = await startCountingAuthBackend(rateLimit, undefined, ['other']);
  const second = await startCountingAuthBackend(rateLimit, undefined, ['other']);
  try {
    const statuses = [];
    for (const backend of [first, second, first, second]) {
      statuses.push((await request(backend.server).get('/api/other/hello')).status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  } finally {
    await first.stop();
    await second.stop();
  }
});
