import type { AuthPolicyAccess } from '../authPolicy';

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
 * its address is on the allow list. `store_error_refuse`: the store failed and the request was refused with 503.
 * A store that fails open counts in memory meanwhile, so its requests are `allowed` or `limited`.
 *
 * @public
 */
export type RateLimitOutcome = 'allowed' | 'limited' | 'allow_listed' | 'store_error_refuse';

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
 * `unauthenticated`: 401 or 403. `unavailable`: 503, the plugin not started in time or shutting down (or a
 * rate-limit store failing closed). `failed`: any other refusal. An upgrade whose client left while it waited is
 * not counted.
 *
 * @public
 */
export type WebSocketUpgradeOutcome =
  'accepted' | 'limited' | 'unauthenticated' | 'unavailable' | 'failed';

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
