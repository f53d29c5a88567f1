import { metrics } from '@opentelemetry/api';
import { LIBRARY_METER_NAME, METRIC_NAMES, STORE_DURATION_BUCKETS_S } from './instrumentNames';
import type {
  CounterLike,
  CredentialsBarrierMetrics,
  HistogramLike,
  HttpRouterMeter,
  HttpRouterMetrics,
  LifecycleGateMetrics,
  MetricAttributes,
  RateLimitMetrics,
  RateLimitOutcome,
  RateLimitStoreFailure,
  WebSocketMetrics,
} from './types';

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
