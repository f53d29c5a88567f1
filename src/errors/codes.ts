/**
 * Stable codes carried by the errors this package throws, so that callers and tests can tell them apart
 * without parsing messages.
 *
 * @public
 */
export const ERROR_CODES = {
  /** A configuration value is missing, of the wrong type or unreadable. */
  config: 'ERR_HTTP_ROUTER_CONFIG',
  /** An auth policy passed to `addAuthPolicy` is invalid. */
  authPolicy: 'ERR_HTTP_ROUTER_AUTH_POLICY',
  /** An option given to `createRedisRateLimitStore` cannot be used. */
  redisStoreOption: 'ERR_HTTP_ROUTER_REDIS_STORE_OPTION',
  /** The rate-limit store could not count a request and fails closed (`passOnStoreError: false`). */
  rateLimitStoreUnavailable: 'ERR_HTTP_ROUTER_RATE_LIMIT_STORE_UNAVAILABLE',
  /**
   * Backstage's root router `applyDefaults()` did not put this package's all-plugins limiter in place while
   * `backend.rateLimit` is set.
   */
  rootRateLimitNotApplied: 'ERR_HTTP_ROUTER_ROOT_RATE_LIMIT_NOT_APPLIED',
} as const;
