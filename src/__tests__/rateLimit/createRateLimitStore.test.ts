import { MemoryStore, type Options } from 'express-rate-limit';
import { ERROR_CODES } from '../../errors';
import { createRateLimitStore } from '../../rateLimit/createRateLimitStore';
import type { RateLimitStoreOptions } from '../../rateLimit/types';

describe('createRateLimitStore', () => {
  it("creates express-rate-limit's MemoryStore, which counts in this process", async () => {
    const store = createRateLimitStore({ store: { type: 'memory' }, prefix: 'rl:global:' });
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
    const options = { store: { type: 'memory' as const }, prefix: 'rl:global:' };
    expect(createRateLimitStore(options)).not.toBe(createRateLimitStore(options));
  });

  it('creates a Redis store under the given prefix without connecting first', () => {
    const store = createRateLimitStore({
      store: { type: 'redis', connection: 'redis://127.0.0.1:1' },
      prefix: 'rl:plugin:catalog:',
    });
    try {
      expect(store.localKeys).toBe(false);
      expect(store.prefix).toBe('rl:plugin:catalog:');
    } finally {
      void store.shutdown?.();
    }
  });

  it('throws for a store type it does not know, never falling back to memory', () => {
    expect(() =>
      createRateLimitStore({
        store: { type: 'mongo' } as unknown as RateLimitStoreOptions,
        prefix: 'rl:global:',
      }),
    ).toThrow(
      expect.objectContaining({ code: ERROR_CODES.config, key: 'backend.rateLimit.store.type' }),
    );
  });
});
