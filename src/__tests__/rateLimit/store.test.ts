import { MemoryStore, type Options } from 'express-rate-limit';
import { ERROR_CODES } from '../../errors';
import { DEFAULT_RATE_LIMIT_OPTIONS } from '../../rateLimit/config';
import { createRateLimitStore, rateLimitKeyPrefix } from '../../rateLimit/store';
import type { RateLimitStoreOptions } from '../../rateLimit/types';
import { createRedisConnections } from '../../redis/connection';

const storeFor = (store: RateLimitStoreOptions, prefix = 'rl:global:') =>
  createRateLimitStore({
    options: { ...DEFAULT_RATE_LIMIT_OPTIONS, store },
    prefix,
    connections: createRedisConnections(),
  });

describe('createRateLimitStore', () => {
  it("creates express-rate-limit's MemoryStore, which counts in this process", async () => {
    const store = storeFor({ type: 'memory' });
    try {
      store.init?.({ windowMs: 60_000 } as Options);
      expect(store).toBeInstanceOf(MemoryStore);
      expect(store.localKeys).toBe(true);
      expect(await store.increment('a')).toMatchObject({ totalHits: 1 });
      expect(await store.increment('a')).toMatchObject({ totalHits: 2 });
    } finally {
      void store.shutdown?.();
    }
  });

  it('creates a new store for every limiter', () => {
    expect(storeFor({ type: 'memory' })).not.toBe(storeFor({ type: 'memory' }));
  });

  it('creates a Redis store under the given prefix without connecting first', () => {
    const store = storeFor(
      { type: 'redis', connection: 'redis://127.0.0.1:1' },
      'rl:plugin:catalog:',
    );
    try {
      expect(store.localKeys).toBe(false);
      expect(store.prefix).toBe('rl:plugin:catalog:');
    } finally {
      void store.shutdown?.();
    }
  });

  it('throws for a store type it does not know, never falling back to memory', () => {
    expect(() => storeFor({ type: 'mongo' } as unknown as RateLimitStoreOptions)).toThrow(
      expect.objectContaining({ code: ERROR_CODES.config, key: 'backend.rateLimit.store.type' }),
    );
  });

  it.each([
    [undefined, undefined, 'rl:global:'],
    ['catalog', undefined, 'rl:plugin:catalog:'],
    ['catalog', 'user', 'rl:plugin:catalog:user:'],
    [undefined, 'failed-authentication', 'rl:global:failed-authentication:'],
  ] as const)('keeps the counters of plugin %s, budget %s under %s', (pluginId, bucket, prefix) => {
    expect(rateLimitKeyPrefix(pluginId, bucket)).toBe(prefix);
  });
});
