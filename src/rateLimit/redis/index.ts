export { getRateLimitKeyPrefix } from './getRateLimitKeyPrefix';
export {
  REDIS_STORE_ERROR_CODES,
  RateLimitStoreUnavailableError,
  RedisStoreOptionError,
} from './errors';
export type { RedisRateLimitStoreOptions } from './types';
