export { httpRouterServiceFactory } from './httpRouterServiceFactory';
export type { HttpRouterFactoryOptions } from './httpRouterServiceFactory';
export { rootHttpRouterServiceFactory } from './rootHttpRouterServiceFactory';
export { createLifecycleMiddleware } from './middleware/createLifecycleMiddleware';
export type { LifecycleMiddlewareOptions } from './middleware/createLifecycleMiddleware';
export { createAuthIntegrationRouter } from './middleware/createAuthIntegrationRouter';
export { createCredentialsBarrier } from './middleware/createCredentialsBarrier';
export type {
  CredentialsBarrier,
  CredentialsBarrierOptions,
} from './middleware/createCredentialsBarrier';
export { createCookieAuthRefreshMiddleware } from './middleware/createCookieAuthRefreshMiddleware';
export { createErrorHandler } from './middleware/createErrorHandler';
export type { ErrorHandlerOptions } from './middleware/createErrorHandler';
export {
  createRateLimitMiddleware,
  createRateLimitStore,
  getBucketKeyPrefix,
  readRateLimitOptions,
} from './rateLimit';
export type {
  PrincipalRateLimits,
  PrincipalRequestLimit,
  RateLimitBucket,
  RateLimitMemoryStoreOptions,
  RateLimitMiddlewareOptions,
  RateLimitOptions,
  RateLimitRedisStoreOptions,
  RateLimitSettings,
  RateLimitStoreFactoryOptions,
  RateLimitStoreOptions,
} from './rateLimit';
export { createRedisRateLimitStore } from './rateLimit/createRedisRateLimitStore';
export { getRateLimitKeyPrefix } from './rateLimit/redis';
export type { RedisRateLimitStoreOptions } from './rateLimit/redis';
export type { AuthPolicy, AuthPolicyAccess } from './authPolicy';
export {
  AuthPolicyError,
  ERROR_CODES,
  HttpRouterConfigError,
  RateLimitStoreUnavailableError,
  RedisStoreOptionError,
  TooManyRequestsError,
} from './errors';
export { createHttpRouterMetrics } from './metrics';
export type {
  CredentialsBarrierMetrics,
  CredentialsRefusalReason,
  HttpRouterMeter,
  HttpRouterMetrics,
  HttpRouterMetricsOptions,
  LifecycleGateMetrics,
  LifecycleRejectionReason,
  RateLimitMetrics,
  RateLimitOutcome,
  RateLimitStoreFailure,
  WebSocketMetrics,
  WebSocketUpgradeOutcome,
} from './metrics';
