import { createServiceFactory, createServiceRef } from '@backstage/backend-plugin-api';
import { metrics } from '@opentelemetry/api';
import type { AuthPolicyAccess } from './authPolicy/registry';

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

/**
 * The attributes of a recorded value: few distinct values per key, never a principal, an address or a path.
 *
 * @public
 */
export type MetricAttributes = Record<string, string>;

/**
 * The part of an OpenTelemetry `Meter` (or of Backstage's alpha `MetricsService`, which has the same shape) that
 * the router's instruments are created from.
 *
 * @remarks
 * Kept to the few methods used, so that both `metrics.getMeter(...)` of `@opentelemetry/api` and a backend's
 * `MetricsService` fit without an adapter.
 *
 * @public
 */
export interface HttpRouterMeter {
  createCounter(name: string, options?: InstrumentOptions): CounterLike;
  createUpDownCounter(name: string, options?: InstrumentOptions): CounterLike;
  createHistogram(name: string, options?: InstrumentOptions): HistogramLike;
}

/**
 * What an instrument is created with: the fields OpenTelemetry's `MetricOptions` and Backstage's share.
 *
 * @public
 */
export interface InstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/**
 * A counter or up-down counter.
 *
 * @public
 */
export interface CounterLike {
  add(value: number, attributes?: MetricAttributes): void;
}

/**
 * A histogram.
 *
 * @public
 */
export interface HistogramLike {
  record(value: number, attributes?: MetricAttributes): void;
}

/**
 * What a rate limiter did with one request.
 *
 * @remarks
 * `allowed`: counted and under the limit. `limited`: counted and refused with 429. `allow_listed`: not counted,
 * its address is on the allow list. `dry_run_limited`: over the limit, let through by `dryRun`. `store_error_refuse`: the store failed and the request was refused with 503.
 * A store that fails open counts in memory meanwhile, so its requests are `allowed` or `limited`.
 *
 * @public
 */
export type RateLimitOutcome =
  'allowed' | 'limited' | 'dry_run_limited' | 'allow_listed' | 'store_error_refuse';

/**
 * Why one count's wait on Redis ended without an answer: it timed out, or Redis answered with an error (or the
 * connection failed).
 *
 * @public
 */
export type RateLimitStoreFailure = 'timeout' | 'error';

/**
 * The instruments of one rate limiter, bound to its plugin and name.
 *
 * @public
 */
export interface RateLimitMetrics {
  /**
   * Counts one decision.
   *
   * @param outcome - What the limiter did.
   * @param bucket - The kind of budget the request was counted in (such as `ip` or `user`), for limiters with
   * more than one kind; never the principal or address itself. Defaults to none.
   */
  recordDecision(outcome: RateLimitOutcome, bucket?: string): void;
  /**
   * Records how long one count waited on Redis.
   *
   * @param durationMs - The wait, in milliseconds (recorded in seconds).
   * @param failure - Why the wait ended without an answer. Defaults to none: Redis answered.
   */
  recordStoreWait(durationMs: number, failure?: RateLimitStoreFailure): void;
}

/**
 * Why the credentials barrier refused a request.
 *
 * @remarks
 * `missing`: no credentials. `invalid`: credentials that did not verify (expired, wrong signature, not allowed).
 * `limited_access`: only the limited-access user cookie, on a path no `user-cookie` policy opens.
 *
 * @public
 */
export type CredentialsRefusalReason = 'missing' | 'invalid' | 'limited_access';

/**
 * The instruments of one plugin's credentials barrier.
 *
 * @public
 */
export interface CredentialsBarrierMetrics {
  /** Counts one refused request. */
  recordRefusal(reason: CredentialsRefusalReason): void;
  /** Counts one request let through on a path an `unauthenticated` or `user-cookie` policy covers. */
  recordPolicyAllowed(policy: AuthPolicyAccess): void;
}

/**
 * Why the lifecycle gate answered 503: the plugin did not start in time, or it is shutting down.
 *
 * @public
 */
export type LifecycleRejectionReason = 'startup_timeout' | 'shutdown';

/**
 * The instruments of one plugin's lifecycle gate.
 *
 * @public
 */
export interface LifecycleGateMetrics {
  /** Counts one request answered 503. */
  recordRejection(reason: LifecycleRejectionReason): void;
  /** Adds `1` when a request starts waiting for the plugin to start, `-1` when it stops waiting (for any reason). */
  addWaiting(delta: 1 | -1): void;
}

/**
 * The instruments of one plugin (or of the all-plugins limiter), from {@link createHttpRouterMetrics}.
 *
 * @public
 */
export interface HttpRouterMetrics {
  /**
   * The instruments of one rate limiter of this plugin.
   *
   * @param limiter - The limiter's name, as in its `RateLimit-Policy` header (`global`, `plugin-<pluginId>`).
   */
  rateLimit(limiter: string): RateLimitMetrics;
  credentialsBarrier: CredentialsBarrierMetrics;
  lifecycleGate: LifecycleGateMetrics;
  webSockets: WebSocketMetrics;
}

/**
 * What became of one WebSocket upgrade.
 *
 * @remarks
 * `accepted`: handed to the plugin's handler. `limited`: 429, over a request budget or the connection limit.
 * `unauthenticated`: 401 or 403. `lifecycle_refused`: 503 of the lifecycle gate (not started in time, shutting
 * down). `unavailable`: another 503 (a store failing closed). `failed`: any other refusal. An upgrade whose client
 * left while it waited is not counted.
 *
 * @public
 */
export type WebSocketUpgradeOutcome =
  'accepted' | 'limited' | 'unauthenticated' | 'lifecycle_refused' | 'unavailable' | 'failed';

/**
 * The instruments of one plugin's WebSocket routes.
 *
 * @public
 */
export interface WebSocketMetrics {
  /** Counts one upgrade. */
  recordUpgrade(outcome: WebSocketUpgradeOutcome): void;
  /** Adds to the WebSockets open: `1` when one is handed to the plugin, `-1` when its socket closes. */
  addOpen(delta: number): void;
}

/**
 * Options for {@link createHttpRouterMetrics}.
 *
 * @public
 */
export interface HttpRouterMetricsOptions {
  /**
   * Where the instruments come from: a plugin's `MetricsService` or any OpenTelemetry `Meter`. Defaults to
   * OpenTelemetry's global meter named `backstage-http-router`, looked up when this is called.
   */
  meter?: HttpRouterMeter;
  /** The plugin whose router records, as the `plugin` attribute. Defaults to none: the all-plugins limiter. */
  pluginId?: string;
}

interface Instruments {
  decisions: CounterLike;
  storeDuration: HistogramLike;
  authRefused: CounterLike;
  authPolicyAllowed: CounterLike;
  lifecycleRejected: CounterLike;
  lifecycleWaiting: CounterLike;
  webSocketUpgrades: CounterLike;
  webSocketsOpen: CounterLike;
}

/**
 * Instruments already created, per meter. Every plugin records on one meter when the backend has no metrics
 * service, and OpenTelemetry warns about an instrument created twice under one name.
 */
const instrumentsByMeter = new WeakMap<HttpRouterMeter, Instruments>();

function createInstruments(meter: HttpRouterMeter): Instruments {
  return {
    decisions: meter.createCounter(METRIC_NAMES.rateLimitDecisions, {
      description: 'Decisions of the rate limiters, by outcome',
      unit: '{decision}',
    }),
    storeDuration: meter.createHistogram(METRIC_NAMES.rateLimitStoreDuration, {
      description: 'How long each count waited on the Redis rate-limit store',
      unit: 's',
      advice: { explicitBucketBoundaries: STORE_DURATION_BUCKETS_S },
    }),
    authRefused: meter.createCounter(METRIC_NAMES.authRefused, {
      description: 'Requests the credentials barrier refused, by reason',
      unit: '{request}',
    }),
    authPolicyAllowed: meter.createCounter(METRIC_NAMES.authPolicyAllowed, {
      description: 'Requests let through by an unauthenticated or user-cookie auth policy',
      unit: '{request}',
    }),
    lifecycleRejected: meter.createCounter(METRIC_NAMES.lifecycleRejected, {
      description:
        'Requests answered 503 because the plugin had not started in time or was shutting down',
      unit: '{request}',
    }),
    lifecycleWaiting: meter.createUpDownCounter(METRIC_NAMES.lifecycleWaiting, {
      description: 'Requests waiting for their plugin to start',
      unit: '{request}',
    }),
    webSocketUpgrades: meter.createCounter(METRIC_NAMES.webSocketUpgrades, {
      description: 'WebSocket upgrades, by outcome',
      unit: '{upgrade}',
    }),
    webSocketsOpen: meter.createUpDownCounter(METRIC_NAMES.webSocketsOpen, {
      description: 'WebSockets handed to the plugin and still open',
      unit: '{connection}',
    }),
  };
}

/**
 * Returns one attribute set per key, built on first use, so that recording allocates nothing per request.
 * The keys come from small enums, so the cache stays small.
 */
function attributeCache(
  build: (key: string) => MetricAttributes,
): (key: string) => MetricAttributes {
  const cache = new Map<string, MetricAttributes>();
  return key => {
    let attributes = cache.get(key);
    if (!attributes) {
      attributes = build(key);
      cache.set(key, attributes);
    }
    return attributes;
  };
}

function createRateLimitMetrics(
  instruments: Instruments,
  base: MetricAttributes,
  limiter: string,
): RateLimitMetrics {
  const decisionAttributes = attributeCache(key => {
    const [outcome, bucket] = key.split('\n');
    return bucket ? { ...base, limiter, outcome, bucket } : { ...base, limiter, outcome };
  });
  const answered = { ...base, limiter };
  const failed = attributeCache(failure => ({ ...base, limiter, 'error.type': failure }));
  return {
    recordDecision(outcome: RateLimitOutcome, bucket?: string) {
      instruments.decisions.add(1, decisionAttributes(bucket ? `${outcome}\n${bucket}` : outcome));
    },
    recordStoreWait(durationMs: number, failure?: RateLimitStoreFailure) {
      instruments.storeDuration.record(durationMs / 1000, failure ? failed(failure) : answered);
    },
  };
}

/**
 * Creates the router's instruments for one plugin, or for the all-plugins limiter.
 *
 * @remarks
 * Every value carries the `plugin` attribute (left out for the all-plugins limiter) and a few attributes with
 * few values each; see the README's Observability section for the list. Instruments are created once per meter.
 * When no OpenTelemetry SDK is registered, the meter is OpenTelemetry's no-op meter and recording does nothing.
 * The Redis fallback gauge is process-wide instead: see {@link registerRedisFallbackProbe}.
 *
 * @public
 */
export function createHttpRouterMetrics(options: HttpRouterMetricsOptions = {}): HttpRouterMetrics {
  const { pluginId, meter = metrics.getMeter(LIBRARY_METER_NAME) } = options;
  let instruments = instrumentsByMeter.get(meter);
  if (!instruments) {
    instruments = createInstruments(meter);
    instrumentsByMeter.set(meter, instruments);
  }
  const created = instruments;
  const base: MetricAttributes = pluginId === undefined ? {} : { plugin: pluginId };
  const withReason = attributeCache(reason => ({ ...base, reason }));
  const withPolicy = attributeCache(policy => ({ ...base, policy }));

  const credentialsBarrier: CredentialsBarrierMetrics = {
    recordRefusal: reason => created.authRefused.add(1, withReason(reason)),
    recordPolicyAllowed: policy => created.authPolicyAllowed.add(1, withPolicy(policy)),
  };
  const lifecycleGate: LifecycleGateMetrics = {
    recordRejection: reason => created.lifecycleRejected.add(1, withReason(reason)),
    addWaiting: delta => created.lifecycleWaiting.add(delta, base),
  };
  const withOutcome = attributeCache(outcome => ({ ...base, outcome }));
  const webSockets: WebSocketMetrics = {
    recordUpgrade: outcome => created.webSocketUpgrades.add(1, withOutcome(outcome)),
    addOpen: delta => created.webSocketsOpen.add(delta, base),
  };
  return {
    rateLimit: limiter => createRateLimitMetrics(created, base, limiter),
    credentialsBarrier,
    lifecycleGate,
    webSockets,
  };
}

/**
 * The id of `metricsServiceRef` in `@backstage/backend-plugin-api/alpha` (from 1.8.0 on).
 */
const METRICS_SERVICE_ID = 'alpha.core.metrics';

/**
 * A dependency on the backend's metrics service that still resolves when the backend registers none.
 *
 * @remarks
 * `createBackend()` (backend-defaults 0.16 and later) and `startTestBackend` register a factory for the alpha
 * `metricsServiceRef`, but that ref has no default factory, and the backend system has no optional dependencies:
 * a factory that lists the ref fails to start in a backend assembled without it. The backend finds a service's
 * factory by its ref's id, so this ref, with the same id, gets the backend's metrics service where one is
 * registered, and otherwise its own default: OpenTelemetry's global meter named `backstage-http-router`, the same
 * source Backstage's own metrics service uses. An optional dependency in the backend system (or a default factory
 * on `metricsServiceRef`) would make this ref unnecessary. Importing the alpha entry point is avoided too, so
 * that a later release moving the ref out of alpha cannot stop the router from loading.
 *
 * @internal
 */
export const optionalMetricsServiceRef = createServiceRef<HttpRouterMeter>({
  id: METRICS_SERVICE_ID,
  scope: 'plugin',
  defaultFactory: async service =>
    createServiceFactory({
      service,
      deps: {},
      factory: () => metrics.getMeter(LIBRARY_METER_NAME),
    }),
});
