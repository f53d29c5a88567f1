export { getRateLimitKeyPrefix } from './getRateLimitKeyPrefix';
export type { RedisRateLimitStoreOptions } from './types';
