import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { createRedisRateLimitStore } from '../../rateLimit/createRedisRateLimitStore';
import { closeRedisRateLimitClients } from '../../rateLimit/redis/redisConnectionRegistry';
import { createLogCollector } from '../helpers/createLogCollector';
import { startCountingAuthBackend } from '../helpers/startCountingAuthBackend';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';

// Review of issue 13 (rate limits per principal), findings 5 and 6 and the second suspected item, on a real Redis.

const ALICE = mockCredentials.user.header('user:default/alice');

const startBackend = (rateLimit: JsonObject, logs = createLogCollector()) =>
  startCountingAuthBackend(rateLimit, logs);

/** A loopback TCP proxy to `port` that holds every reply of the server for `delayMs` (settable), in order. */
async function startSlowProxy(port: number) {
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer(client => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    sockets.add(client).add(upstream);
    client.on('data', chunk => upstream.write(chunk));
    upstream.on('data', chunk => {
      setTimeout(() => client.write(chunk), delayMs);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port: proxyPort } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    setDelay: (ms: number) => {
      delayMs = ms;
    },
    stop: () =>
      new Promise<void>(resolve => {
        sockets.forEach(socket => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

describe('issue 13 review, on a real Redis', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await closeRedisRateLimitClients();
    await redis.stop();
  });

  it('finding 5: a request waits one store.timeout at most, whatever the number of budgets it crosses', async () => {
    const delayMs = 120;
    const timeoutMs = 200;
    const proxy = await startSlowProxy(redis.port);
    // Two layers (all plugins, and the plugin) with a failed-authentication budget each: two reads before
    // verifying, then two increments, every one of them a round trip of at least delayMs.
    const backend = await startBackend({
      ipAllowList: [],
      userRequestLimit: 100,
      failedAuthenticationLimit: 100,
      store: { type: 'redis', connection: proxy.url, timeout: { milliseconds: timeoutMs } },
      plugin: { example: {} },
    });
    try {
      // Connect and load the scripts at full speed; then every reply is late, though within the timeout.
      await request(backend.server).get('/api/example/hello').set('Authorization', ALICE);
      proxy.setDelay(delayMs);
      const elapsed: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const res = await request(backend.server)
          .get('/api/example/hello')
          .set('Authorization', ALICE);
        elapsed.push(Date.now() - started);
        expect(res.status).toBe(200);
      }
      // Three round trips in turn (the reads in parallel, then an increment per layer) would take at least
      // 3 * delayMs = 360 ms, four before the reads ran in parallel; one shared wait takes timeoutMs plus the
      // request's own handling.
      expect(Math.max(...elapsed)).toBeLessThan(timeoutMs + 90);
    } finally {
      await backend.stop();
      await proxy.stop();
    }
  });

  it('finding 6: a Redis that cannot read the failed-authentication count gives a plain 503', async () => {
    const logs = createLogCollector();
    const backend = await startBackend(
      {
        global: false,
        ipAllowList: [],
        passOnStoreError: false,
        failedAuthenticationLimit: 5,
        store: {
          type: 'redis',
          connection: redis.url,
          timeout: { milliseconds: 100 },
          retryAfter: { seconds: 7 },
        },
        plugin: { example: {} },
      },
      logs,
    );
    try {
      expect(
        (await request(backend.server).get('/api/example/hello').set('Authorization', ALICE))
          .status,
      ).toBe(200);
      redis.pause();
      const answers = [];
      for (let i = 0; i < 3; i++) {
        answers.push(
          await request(backend.server).get('/api/example/hello').set('Authorization', ALICE),
        );
      }
      for (const res of answers) {
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('7');
        expect(res.body.error).toEqual({
          name: 'ServiceUnavailableError',
          message: 'Rate limiting is unavailable; try again later',
        });
        expect(JSON.stringify(res.body)).not.toMatch(/Redis|retryAfter|cause/);
      }
      // The outage is logged when it starts, not once per refused request.
      const perRequest = logs.lines.filter(
        line => line.level === 'error' && /Request failed|ServiceUnavailable/.test(line.message),
      );
      expect(perRequest).toEqual([]);
    } finally {
      redis.resume();
      await backend.stop();
    }
  });

  it("suspected item 2: another backend's refused database does not stop this backend's start-up", async () => {
    // Another backend of the process names a database this server does not have.
    const other = createRedisRateLimitStore({ connection: `${redis.url}/99`, prefix: 'rl:other:' });
    other.init?.({ windowMs: 60_000 } as never);
    await other.get?.('warm-up');
    const backend = await startBackend({
      global: false,
      ipAllowList: [],
      store: { type: 'redis', connection: redis.url },
      plugin: { example: {} },
    });
    try {
      expect(
        (await request(backend.server).get('/api/example/hello').set('Authorization', ALICE))
          .status,
      ).toBe(200);
    } finally {
      await backend.stop();
      await other.shutdown?.();
    }
  });
});
