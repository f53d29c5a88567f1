/**
 * The name prefix of every instrument the router creates, in OpenTelemetry's dotted, lower-case style.
 *
 * @internal
 */
export const METRIC_PREFIX = 'backstage.http_router';

/**
 * The names of the router's instruments.
 *
 * @remarks
 * Counters of events are named after the event in the plural with a `{request}`-style unit, durations end in
 * `.duration` and are in seconds, and the count of requests currently waiting is an up-down counter, as
 * OpenTelemetry's semantic conventions name theirs (`http.server.request.duration`, `http.server.active_requests`).
 *
 * @internal
 */
export const METRIC_NAMES = {
  rateLimitDecisions: `${METRIC_PREFIX}.rate_limit.decisions`,
  rateLimitStoreDuration: `${METRIC_PREFIX}.rate_limit.store.duration`,
  redisFallback: `${METRIC_PREFIX}.rate_limit.redis.fallback`,
  authRefused: `${METRIC_PREFIX}.auth.refused`,
  authPolicyAllowed: `${METRIC_PREFIX}.auth.policy_allowed`,
  lifecycleRejected: `${METRIC_PREFIX}.lifecycle.rejected`,
  lifecycleWaiting: `${METRIC_PREFIX}.lifecycle.waiting_requests`,
  webSocketUpgrades: `${METRIC_PREFIX}.websocket.upgrades`,
  webSocketsOpen: `${METRIC_PREFIX}.websocket.open_connections`,
} as const;

/**
 * Histogram buckets of the Redis wait, in seconds: from half a millisecond (a local Redis) to one second, well
 * past the store's 100 ms default timeout. OpenTelemetry's default buckets (0 to 10 000) suit milliseconds and
 * would put every wait in seconds into the first one.
 */
export const STORE_DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** The instrumentation scope of instruments that belong to no plugin: the all-plugins limiter, the Redis gauge. */
export const LIBRARY_METER_NAME = 'backstage-http-router';
