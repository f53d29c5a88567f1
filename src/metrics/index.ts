export { createHttpRouterMetrics } from './createHttpRouterMetrics';
export type { HttpRouterMetricsOptions } from './createHttpRouterMetrics';
export { credentialsRefusalReason } from './credentialsRefusalReason';
export { LIBRARY_METER_NAME, METRIC_NAMES, METRIC_PREFIX } from './instrumentNames';
export { optionalMetricsServiceRef } from './optionalMetricsServiceRef';
export { redisConnectionAttribute, registerRedisFallbackProbe } from './registerRedisFallbackProbe';
export type {
  CounterLike,
  CredentialsBarrierMetrics,
  CredentialsRefusalReason,
  HistogramLike,
  HttpRouterMeter,
  HttpRouterMetrics,
  InstrumentOptions,
  LifecycleGateMetrics,
  LifecycleRejectionReason,
  MetricAttributes,
  RateLimitMetrics,
  RateLimitOutcome,
  RateLimitStoreFailure,
  WebSocketMetrics,
  WebSocketUpgradeOutcome,
} from './types';
