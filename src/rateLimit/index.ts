export { createRateLimitMiddleware } from './createRateLimitMiddleware';
export type { RateLimitMiddlewareOptions } from './createRateLimitMiddleware';
export { createRateLimitStore } from './createRateLimitStore';
export { getBucketKeyPrefix } from './getBucketKeyPrefix';
export type { RateLimitStoreFactoryOptions } from './createRateLimitStore';
export {
  DEFAULT_IP_ALLOW_LIST,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_LIMIT_OPTIONS,
  DEFAULT_RATE_LIMIT_WINDOW_MS,
  readRateLimitOptions,
} from './readRateLimitOptions';
export type {
  PrincipalRateLimits,
  PrincipalRequestLimit,
  RateLimitBucket,
  RateLimitMemoryStoreOptions,
  RateLimitOptions,
  RateLimitRedisStoreOptions,
  RateLimitSettings,
  RateLimitStoreOptions,
} from './types';
