import { rootHttpRouterServiceFactory as upstreamRootHttpRouterServiceFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { rootHttpRouterServiceFactory } from '../rootHttpRouterServiceFactory';
import { freePort } from './helpers/freePort';
import { type RedisServerHandle, startRedisServer } from './helpers/redisServer';
import {
  answer,
  type RootRouterBackend,
  startRootRouterBackend,
} from './helpers/startRootRouterBackend';

async function timedAnswer(baseUrl: string, path: string) {
  const started = performance.now();
  const res = await answer(baseUrl, 'GET', path);
  return { ...res, ms: performance.now() - started };
}

describe('rootHttpRouterServiceFactory with a Redis store', () => {
  const STORE_TIMEOUT_MS = 150;
  /** Scheduling slack on a busy machine; upstream's requests wait seconds. */
  const MARGIN_MS = 350;
  let redis: RedisServerHandle;
  let backend: RootRouterBackend;

  beforeAll(async () => {
    redis = await startRedisServer();
    backend = await startRootRouterBackend(rootHttpRouterServiceFactory, {
      rateLimit: {
        ipAllowList: [],
        store: { type: 'redis', connection: redis.url, timeout: `${STORE_TIMEOUT_MS}ms` },
      },
    });
  });

  afterAll(async () => {
    await backend.stop();
    await redis.stop();
  });

  async function expectPromptAnswers() {
    const answers = [
      await timedAnswer(backend.baseUrl, '/api/example/hello'),
      ...(await Promise.all(
        Array.from({ length: 5 }, () => timedAnswer(backend.baseUrl, '/api/example/hello')),
      )),
      await timedAnswer(backend.baseUrl, '/.backstage/health/v1/readiness'),
    ];
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(STORE_TIMEOUT_MS + MARGIN_MS);
    }
    expect(answers[0].headers['ratelimit-policy']).toMatch(/^"global"; q=1000; w=60;/);
  }

  it('counts every client in Redis under our all-plugins key', async () => {
    await answer(backend.baseUrl, 'GET', '/api/example/hello');
    await answer(backend.baseUrl, 'GET', '/api/example/hello');
    expect(Number(await redis.cli('GET', 'rl:global:127.0.0.1'))).toBe(2);
  });

  it('answers within store.timeout while Redis is frozen (SIGSTOP)', async () => {
    redis.pause();
    try {
      await expectPromptAnswers();
    } finally {
      redis.resume();
    }
  });

  it('answers within store.timeout once Redis is killed', async () => {
    await redis.kill();
    await expectPromptAnswers();
  });
});

describe('rootHttpRouterServiceFactory with a comma-separated Redis Cluster URL', () => {
  it("starts and serves where upstream's factory stops the backend with 'Invalid URL'", async () => {
    // Nothing listens on these ports: our store starts while Redis is unreachable and counts in memory.
    const connection = `redis://127.0.0.1:${await freePort()},redis://127.0.0.1:${await freePort()}`;
    const config = { rateLimit: { ipAllowList: [], store: { type: 'redis', connection } } };
    await expect(
      startRootRouterBackend(upstreamRootHttpRouterServiceFactory, config),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_URL' });

    const ours = await startRootRouterBackend(rootHttpRouterServiceFactory, config);
    try {
      const res = await answer(ours.baseUrl, 'GET', '/api/example/hello');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-policy']).toMatch(/^"global"; q=1000; w=60;/);
    } finally {
      await ours.stop();
    }
  });
});
