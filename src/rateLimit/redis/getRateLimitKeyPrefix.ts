/** The key prefix of the limiter that covers all plugins. */
const GLOBAL_PREFIX = 'rl:global:';

/**
 * The Redis key prefix for one limiter: `rl:plugin:<pluginId>:` for a plugin's limiter, `rl:global:` for the
 * all-plugins limiter.
 *
 * @remarks
 * Distinct prefixes keep each limiter's counters apart even though they share one Redis and count the same
 * client keys.
 *
 * @public
 */
export function getRateLimitKeyPrefix(pluginId?: string): string {
  return pluginId === undefined ? GLOBAL_PREFIX : `rl:plugin:${pluginId}:`;
}
