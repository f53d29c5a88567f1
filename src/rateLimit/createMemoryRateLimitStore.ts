import { MemoryStore } from 'express-rate-limit';

/**
 * A fresh express-rate-limit `MemoryStore`.
 *
 * @remarks
 * Temporary: kept only because the Redis store still builds its in-memory fallback through this function; delete
 * it once that store creates a `MemoryStore` itself.
 *
 * @internal
 */
export function createMemoryRateLimitStore(): MemoryStore {
  return new MemoryStore();
}
