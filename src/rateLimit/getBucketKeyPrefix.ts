import { getRateLimitKeyPrefix } from './redis/getRateLimitKeyPrefix';
import type { RateLimitBucket } from './types';

/**
 * The store key prefix of one budget of a limiter: {@link getRateLimitKeyPrefix} followed by `<bucket>:`, as in
 * `rl:plugin:catalog:user:` or `rl:global:service:`.
 *
 * @remarks
 * Every budget needs its own prefix: a user entity ref and a service subject must never share a counter, nor
 * may the per-address count of failed authentications share one with the per-address budget. Without a bucket,
 * the limiter's own prefix, unchanged, so that a limiter without per-principal budgets keeps its keys.
 *
 * @param pluginId - The plugin of the limiter; none for the all-plugins limiter.
 * @param bucket - The budget. Defaults to none.
 * @public
 */
export function getBucketKeyPrefix(pluginId: string | undefined, bucket?: RateLimitBucket): string {
  const prefix = getRateLimitKeyPrefix(pluginId);
  return bucket === undefined ? prefix : `${prefix}${bucket}:`;
}
