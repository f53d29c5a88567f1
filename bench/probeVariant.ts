import type { BenchRedis } from './startRedisServer';
import type { Variant } from './types';

/**
 * Sends a variant's request once and says why its numbers would be meaningless, if they would be.
 *
 * @remarks
 * Catches a wrong status (a 401 where a 200 was meant), a limiter that is still a pass-through (no
 * rate-limit headers) and a Redis store that is configured but not used (no keys in the bench's
 * redis). Answers `undefined` when the variant is fit to measure.
 *
 * @param port - where the variant's server listens.
 * @param variant - the variant to check.
 * @param redis - the bench's redis, for variants that must write to it.
 */
export async function probeVariant(
  port: number,
  variant: Variant,
  redis?: BenchRedis,
): Promise<string | undefined> {
  // From an empty database, so that a variant counting under the keys an earlier variant of the scenario wrote (the
  // same plugin and client) still proves that it writes. The other servers' counters start again; no bench limit
  // is ever reached.
  if (variant.expectRedisKeys) {
    await redis?.flushDb();
  }
  const keysBefore = variant.expectRedisKeys ? await redis?.dbSize() : undefined;
  const response = await fetch(`http://127.0.0.1:${port}${variant.request.path}`, {
    headers: variant.request.headers,
  });
  await response.arrayBuffer();
  if (!variant.expectStatus.includes(response.status)) {
    return `answered ${response.status}, expected ${variant.expectStatus.join(' or ')}`;
  }
  if (variant.expectRateLimitHeaders) {
    const names = [...response.headers.keys()];
    if (!names.some(name => name.includes('ratelimit'))) {
      return 'no rate-limit headers in the response: the limiter is not active';
    }
  }
  const policies = [...(response.headers.get('ratelimit-policy') ?? '').matchAll(/"([^"]+)"/g)];
  if (
    variant.expectPolicies &&
    policies.map(match => match[1]).join() !== variant.expectPolicies.join()
  ) {
    return `RateLimit-Policy names ${policies.map(match => match[1]).join(', ')}, expected ${variant.expectPolicies.join(', ')}`;
  }
  if (variant.expectRedisKeys) {
    if (!redis || keysBefore === undefined) {
      return 'no redis-server for the bench';
    }
    if ((await redis.dbSize()) <= keysBefore) {
      return 'no keys written to the bench redis: the Redis store is not used';
    }
  }
  return undefined;
}
