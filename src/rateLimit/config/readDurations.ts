import type { Config } from '@backstage/config';
import { HttpRouterConfigError, describeValue } from '../../errors';
import { MAX_TIMER_DELAY_MS, readDurationMs } from '../../readDurationMs';
import type { RateLimitStoreOptions } from '../types';

/**
 * Reads `window` of a limiter block, in milliseconds, taking `fallbackMs` when the block leaves it out.
 *
 * @remarks
 * With Redis the window is the expiry of a key in Redis, not a timer of ours (the Redis store caps the sweeper
 * of its memory fallback itself), so only the memory store, which sweeps on `setInterval`, is held to the
 * longest timer delay. The check also covers a window inherited from the top-level block by a plugin block that
 * switches to the memory store.
 *
 * @param block - The top-level or plugin block.
 * @param fullKey - The full key of `block`.
 * @param store - The store the block ends up with.
 * @param fallbackMs - The window of the parent block.
 * @internal
 */
export function readWindowMs(
  block: Config,
  fullKey: string,
  store: RateLimitStoreOptions,
  fallbackMs: number,
): number {
  const windowKey = `${fullKey}.window`;
  const windowMs = readDurationMs(block, 'window', {
    fullKey: windowKey,
    fallbackMs,
    // Past 2^53 milliseconds are no longer whole numbers, and far past it Redis refuses the expiry of every
    // count (which would then silently fall back to memory), so even Redis gets a bound, of 285,000 years.
    maxMs: Number.MAX_SAFE_INTEGER,
  });
  if (store.type === 'memory' && windowMs > MAX_TIMER_DELAY_MS) {
    throw new HttpRouterConfigError(
      windowKey,
      `expected at most ${MAX_TIMER_DELAY_MS} ms (about 24 days) with the memory store, got ${windowMs} ms`,
    );
  }
  return windowMs;
}

/**
 * Reads `store.timeout` of a Redis store, in milliseconds, or `undefined` when it is left out.
 *
 * @remarks
 * Each count waits on a `setTimeout` of this length, so it is held to the longest timer delay: past it Node.js
 * fires after 1 ms and every count would time out against a healthy Redis.
 *
 * @param store - The `store` block.
 * @param storeKey - The full key of `store`.
 * @internal
 */
export function readStoreTimeoutMs(store: Config, storeKey: string): number | undefined {
  if (!store.has('timeout')) {
    return undefined;
  }
  return readDurationMs(store, 'timeout', { fullKey: `${storeKey}.timeout`, fallbackMs: 0 });
}

/**
 * Reads `store.retryAfter` of a Redis store as a whole number of seconds, or `undefined` when it is left out.
 *
 * @param store - The `store` block.
 * @param storeKey - The full key of `store`.
 * @internal
 */
export function readRetryAfterSeconds(store: Config, storeKey: string): number | undefined {
  if (!store.has('retryAfter')) {
    return undefined;
  }
  const fullKey = `${storeKey}.retryAfter`;
  const ms = readDurationMs(store, 'retryAfter', { fullKey, fallbackMs: 0 });
  if (ms % 1000 !== 0) {
    throw new HttpRouterConfigError(
      fullKey,
      `expected a whole number of seconds such as '5s', got ${describeValue(store.getOptional('retryAfter'))}`,
    );
  }
  return ms / 1000;
}
