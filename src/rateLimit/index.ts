export { createRateLimitMiddleware } from './createRateLimitMiddleware';
export type { RateLimitMiddlewareOptions } from './createRateLimitMiddleware';
export { createRateLimitHandler } from './createRateLimitHandler';
export type { RateLimitHandlerOptions } from './createRateLimitHandler';
export { createMemoryRateLimitStore } from './createMemoryRateLimitStore';
export type { MemoryRateLimitStore } from './createMemoryRateLimitStore';
export { createRateLimitStore } from './createRateLimitStore';
export type { RateLimitStoreFactoryOptions } from './createRateLimitStore';
export {
  DEFAULT_IP_ALLOW_LIST,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_LIMIT_OPTIONS,
  DEFAULT_RATE_LIMIT_WINDOW_MS,
  readRateLimitOptions,
} from './readRateLimitOptions';
export { TooManyRequestsError } from './TooManyRequestsError';
export type {
  RateLimitMemoryStoreOptions,
  RateLimitOptions,
  RateLimitRedisStoreOptions,
  RateLimitSettings,
  RateLimitStoreOptions,
} from './types';
