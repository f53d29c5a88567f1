export { httpRouterServiceFactory } from './httpRouter/httpRouterServiceFactory';
export type { HttpRouterFactoryOptions } from './httpRouter/httpRouterServiceFactory';
export { rootHttpRouterServiceFactory } from './httpRouter/rootHttpRouterServiceFactory';
export { createLifecycleMiddleware } from './middleware/createLifecycleMiddleware';
export type { LifecycleMiddlewareOptions } from './middleware/createLifecycleMiddleware';
export {
  createAuthIntegrationRouter,
  createCookieAuthRefreshMiddleware,
} from '@backstage/backend-defaults/httpRouter';
export { createCredentialsBarrier } from './middleware/createCredentialsBarrier';
export type {
  CredentialsBarrier,
  CredentialsBarrierOptions,
} from './middleware/createCredentialsBarrier';
export { createErrorHandler, type ErrorHandlerOptions } from './middleware/createErrorHandler';
export { createRateLimitMiddleware } from './rateLimit/createRateLimitMiddleware';
export type { RateLimitMiddlewareOptions } from './rateLimit/createRateLimitMiddleware';
export type {
  PrincipalRateLimits,
  PrincipalRequestLimit,
  RateLimitBucket,
  RateLimitMemoryStoreOptions,
  RateLimitOptions,
  RateLimitRedisStoreOptions,
  RateLimitRouteRule,
  RateLimitSettings,
  RateLimitStoreOptions,
} from './rateLimit/types';
export type { AuthPolicy, AuthPolicyAccess } from './authPolicy/registry';
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
