import { MemoryStore } from 'express-rate-limit';
import { ERROR_CODES } from '../../errors';
import { createRateLimitStore } from '../../rateLimit/createRateLimitStore';
import type { RateLimitStoreOptions } from '../../rateLimit/types';

describe('createRateLimitStore', () => {
  it('creates a memory store whose timer never holds the process open and stops at shutdown', () => {
    const store = createRateLimitStore({ store: { type: 'memory' }, prefix: 'rl:global:' });
    expect(store).toBeInstanceOf(MemoryStore);
    const memory = store as MemoryStore;
    memory.init({ windowMs: 60_000 } as Parameters<MemoryStore['init']>[0]);
    expect(memory.interval?.hasRef()).toBe(false);
    memory.shutdown();
    expect(memory.interval?.hasRef()).toBe(false);
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
