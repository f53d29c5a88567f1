import { createServiceFactory, createServiceRef } from '@backstage/backend-plugin-api';
import { metrics } from '@opentelemetry/api';
import type { AuthPolicyAccess } from './authPolicy/registry';

export const METRIC_PREFIX = 'backstage.http_router';

/** Instrument names, after OpenTelemetry's conventions: events in the plural, durations in seconds. */
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

/** Buckets of the Redis wait in seconds, past the 100 ms default timeout; OpenTelemetry's suit milliseconds. */
export const STORE_DURATION_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** The instrumentation scope of instruments that belong to no plugin: the all-plugins limiter, the Redis gauge. */
export const LIBRARY_METER_NAME = 'backstage-http-router';

type Attributes = Record<string, string>;
type InstrumentOptions = { description?: string; unit?: string; advice?: object };
type Counter = { add(value: number, attributes?: Attributes): void };
type Histogram = { record(value: number, attributes?: Attributes): void };

/**
 * The part of an OpenTelemetry `Meter` the router uses; Backstage's alpha `MetricsService` fits it too.
 * @public
 */
export interface HttpRouterMeter {
  createCounter(name: string, options?: InstrumentOptions): Counter;
  createUpDownCounter(name: string, options?: InstrumentOptions): Counter;
  createHistogram(name: string, options?: InstrumentOptions): Histogram;
}

/** What a limiter did; a store failing open counts in memory, so its requests are `allowed` or `limited`. */
export type RateLimitOutcome =
  'allowed' | 'limited' | 'dry_run_limited' | 'allow_listed' | 'store_error_refuse';
export type RateLimitStoreFailure = 'timeout' | 'error';
/** `limited_access`: only the user cookie, on a path no `user-cookie` policy opens. */
export type CredentialsRefusalReason = 'missing' | 'invalid' | 'limited_access';
export type LifecycleRejectionReason = 'startup_timeout' | 'shutdown';
/** `unavailable` is a 503 other than the lifecycle gate's (a store failing closed). */
export type WebSocketUpgradeOutcome =
  'accepted' | 'limited' | 'unauthenticated' | 'lifecycle_refused' | 'unavailable' | 'failed';

/**
 * The instruments of one plugin (or of the all-plugins limiter), from {@link createHttpRouterMetrics}.
 * @public
 */
export interface HttpRouterMetrics {
  /** The instruments of the limiter named as in its `RateLimit-Policy` header (`global`, `plugin-<id>`). */
  rateLimit(limiter: string): {
    /** `bucket` is the budget kind (`address`, `user`, `service`, `failed-authentication`), never the principal. */
    recordDecision(outcome: RateLimitOutcome, bucket?: string): void;
    /** One count's wait on Redis, in milliseconds; `failure` when it ended unanswered. */
    recordStoreWait(durationMs: number, failure?: RateLimitStoreFailure): void;
  };
  credentialsBarrier: {
    recordRefusal(reason: CredentialsRefusalReason): void;
    /** A request let through by an `unauthenticated` or `user-cookie` policy. */
    recordPolicyAllowed(policy: AuthPolicyAccess): void;
  };
  lifecycleGate: {
    recordRejection(reason: LifecycleRejectionReason): void;
    /** `1` when a request starts waiting for the plugin to start, `-1` when it stops waiting. */
    addWaiting(delta: 1 | -1): void;
  };
  webSockets: {
    recordUpgrade(outcome: WebSocketUpgradeOutcome): void;
    /** `1` when a WebSocket is handed to the plugin, `-1` when its socket closes. */
    addOpen(delta: number): void;
  };
}
export type RateLimitMetrics = ReturnType<HttpRouterMetrics['rateLimit']>;
export type CredentialsBarrierMetrics = HttpRouterMetrics['credentialsBarrier'];
export type LifecycleGateMetrics = HttpRouterMetrics['lifecycleGate'];
export type WebSocketMetrics = HttpRouterMetrics['webSockets'];

/**
 * Options for {@link createHttpRouterMetrics}.
 * @public
 */
export interface HttpRouterMetricsOptions {
  /** A plugin's `MetricsService` or any `Meter`. Defaults to the global meter `backstage-http-router`. */
  meter?: HttpRouterMeter;
  /** The `plugin` attribute. Defaults to none: the all-plugins limiter. */
  pluginId?: string;
}

/** Per meter: every plugin shares one meter without a metrics service, and OpenTelemetry warns on duplicates. */
const instrumentsByMeter = new WeakMap<HttpRouterMeter, ReturnType<typeof createInstruments>>();

function createInstruments(meter: HttpRouterMeter) {
  const N = METRIC_NAMES;
  const counter = (name: string, description: string, unit = '{request}') =>
    meter.createCounter(name, { description, unit });
  const upDown = (name: string, description: string, unit = '{request}') =>
    meter.createUpDownCounter(name, { description, unit });
  return {
    decisions: counter(
      N.rateLimitDecisions,
      'Decisions of the rate limiters, by outcome',
      '{decision}',
    ),
    storeDuration: meter.createHistogram(N.rateLimitStoreDuration, {
      description: 'How long each count waited on the Redis rate-limit store',
      unit: 's',
      advice: { explicitBucketBoundaries: STORE_DURATION_BUCKETS_S },
    }),
    authRefused: counter(N.authRefused, 'Requests the credentials barrier refused, by reason'),
    authPolicyAllowed: counter(
      N.authPolicyAllowed,
      'Requests let through by an unauthenticated or user-cookie auth policy',
    ),
    lifecycleRejected: counter(
      N.lifecycleRejected,
      'Requests answered 503 because the plugin had not started in time or was shutting down',
    ),
    lifecycleWaiting: upDown(N.lifecycleWaiting, 'Requests waiting for their plugin to start'),
    webSocketUpgrades: counter(N.webSocketUpgrades, 'WebSocket upgrades, by outcome', '{upgrade}'),
    webSocketsOpen: upDown(
      N.webSocketsOpen,
      'WebSockets handed to the plugin and still open',
      '{connection}',
    ),
  };
}

/** One attribute set per key (keys come from small enums), so recording allocates nothing per request. */
function attributeCache(build: (key: string) => Attributes): (key: string) => Attributes {
  const cache = new Map<string, Attributes>();
  return key => {
    let attributes = cache.get(key);
    if (!attributes) cache.set(key, (attributes = build(key)));
    return attributes;
  };
}

/**
 * Creates the router's instruments for one plugin, or for the all-plugins limiter: each value carries `plugin`
 * (but the all-plugins limiter's) and attributes with few values. Without an SDK, recording does nothing.
 * @public
 */
export function createHttpRouterMetrics(options: HttpRouterMetricsOptions = {}): HttpRouterMetrics {
  const { pluginId, meter = metrics.getMeter(LIBRARY_METER_NAME) } = options;
  const created = instrumentsByMeter.get(meter) ?? createInstruments(meter);
  instrumentsByMeter.set(meter, created);
  const base: Attributes = pluginId === undefined ? {} : { plugin: pluginId };
  const withReason = attributeCache(reason => ({ ...base, reason }));
  const withPolicy = attributeCache(policy => ({ ...base, policy }));
  const withOutcome = attributeCache(outcome => ({ ...base, outcome }));
  return {
    rateLimit(limiter) {
      const decided = attributeCache(key => {
        const [outcome, bucket] = key.split('\n');
        return bucket ? { ...base, limiter, outcome, bucket } : { ...base, limiter, outcome };
      });
      const answered = { ...base, limiter };
      const failed = attributeCache(failure => ({ ...base, limiter, 'error.type': failure }));
      return {
        recordDecision: (outcome, bucket) =>
          created.decisions.add(1, decided(bucket ? `${outcome}\n${bucket}` : outcome)),
        recordStoreWait: (durationMs, failure) =>
          created.storeDuration.record(durationMs / 1000, failure ? failed(failure) : answered),
      };
    },
    credentialsBarrier: {
      recordRefusal: reason => created.authRefused.add(1, withReason(reason)),
      recordPolicyAllowed: policy => created.authPolicyAllowed.add(1, withPolicy(policy)),
    },
    lifecycleGate: {
      recordRejection: reason => created.lifecycleRejected.add(1, withReason(reason)),
      addWaiting: delta => created.lifecycleWaiting.add(delta, base),
    },
    webSockets: {
      recordUpgrade: outcome => created.webSocketUpgrades.add(1, withOutcome(outcome)),
      addOpen: delta => created.webSocketsOpen.add(delta, base),
    },
  };
}

/**
 * The backend's metrics service where one is registered, else the global meter `backstage-http-router`: the
 * same id as `metricsServiceRef` of `@backstage/backend-plugin-api/alpha`, which has no default factory, so a
 * backend without it still starts. An optional dependency in the backend system would remove this.
 * @internal
 */
export const optionalMetricsServiceRef = createServiceRef<HttpRouterMeter>({
  id: 'alpha.core.metrics',
  scope: 'plugin',
  defaultFactory: async service =>
    createServiceFactory({
      service,
      deps: {},
      factory: () => metrics.getMeter(LIBRARY_METER_NAME),
    }),
});
