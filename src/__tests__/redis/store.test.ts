import type { Options } from 'express-rate-limit';
import { createTestRedisStore } from '../helpers/redisStores';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { waitUntil } from '../helpers/waitUntil';

describe('the Redis rate-limit store', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it.each([
    ['its first script load', false],
    ['a script load after SCRIPT FLUSH', true],
  ])('counts in Redis again once Redis accepts %s that it refused', async (_, loadedFirst) => {
    const user = loadedFirst ? 'flushed' : 'limited';
    const grant = (rule: string) =>
      redis.cli('ACL', 'SETUSER', user, 'on', '>secret', '~*', '+@all', rule);
    await grant(loadedFirst ? '+script' : '-script');
    const store = createTestRedisStore({
      connection: `redis://${user}:secret@127.0.0.1:${redis.port}`,
      prefix: `rl:${user}:`,
    });
    try {
      store.init?.({ windowMs: 60_000 } as Options);
      if (loadedFirst) {
        expect((await store.increment('loaded')).totalHits).toBe(1);
        await redis.cli('SCRIPT', 'FLUSH');
        await grant('-script');
      }
      expect((await store.increment('refused')).totalHits).toBe(1);
      expect(await redis.cli('EXISTS', `rl:${user}:refused`)).toBe('0');

      await grant('+script');

      await waitUntil('a count reaches Redis', async () => {
        await store.increment('later');
        return (await redis.cli('EXISTS', `rl:${user}:later`)) === '1';
      });
    } finally {
      await store.shutdown?.();
    }
  });
});
