/**
 * Which implementation serves a request: bare express, our factory or the upstream one.
 *
 * @remarks
 * Each kind runs in its own child process, so that the sides never share a JIT or a heap.
 */
export type ServerKind = 'bare' | 'ours' | 'upstream';

/**
 * What sits in front of the plugin router.
 *
 * @remarks
 * `full` is a backend with upstream's production root router (helmet, cors, compression, request
 * logging, health routes); `plugin` mounts the plugin router on a plain express app.
 */
export type Stack = 'full' | 'plugin';

/** Which rate-limit store a factory backend is configured with; leave out for no rate limiting. */
export type RateLimitStoreType = 'memory' | 'redis';

/** Everything a child process needs to build one server. */
export interface ServerSpec {
  kind: ServerKind;
  stack: Stack;
  /** How many numbered policies the plugin adds after `/public`. */
  policies: number;
  rateLimit?: RateLimitStoreType;
  /** With `rateLimit`: count per verified principal (`userRequestLimit`) rather than per address. */
  perPrincipal?: boolean;
  /** With `rateLimit`: give the plugin block `ROUTE_RULE_COUNT` route rules (see `createBackendConfig`). */
  routeRules?: boolean;
  /**
   * Use Backstage's real httpAuth (which caches each request's credentials) over the mock auth, rather than
   * the mock httpAuth (which verifies on every call). Defaults to the mock.
   */
  realHttpAuth?: boolean;
  /**
   * Give the backend a real OpenTelemetry SDK (a `MeterProvider` with a reader collecting every second) as its
   * metrics service. Defaults to none: the router records into OpenTelemetry's no-op meter.
   */
  metricsSdk?: boolean;
  /** The `redis://` URL of the bench's own redis-server, for `rateLimit: 'redis'`. */
  redisUrl?: string;
}

/** The one request a variant sends over and over. */
export interface RequestSpec {
  path: string;
  headers?: Record<string, string>;
}

/** One side of a scenario: a server and the request sent to it. */
export interface Variant {
  /** Stable key, unique within its scenario; used by targets and in results.json. */
  id: string;
  label: string;
  server: ServerSpec;
  request: RequestSpec;
  /** Statuses the request may get; anything else makes the numbers meaningless. */
  expectStatus: readonly number[];
  /** The response must carry rate-limit headers, or the limiter is not active. */
  expectRateLimitHeaders?: boolean;
  /** The `RateLimit-Policy` names the response must carry, exactly (a route rule that counts it, for instance). */
  expectPolicies?: readonly string[];
  /** The request must write keys into the bench's redis, or the Redis store is not used. */
  expectRedisKeys?: boolean;
}

/** A group of variants measured in interleaved rounds. */
export interface Scenario {
  /** `<stack>/<name>`, matched by `BENCH_SCENARIOS`. */
  id: string;
  title: string;
  variants: Variant[];
}

/** What the parent asks a server child to do. */
export type ChildCommand =
  | { type: 'start'; key: string; spec: ServerSpec }
  | { type: 'stop'; key: string }
  | { type: 'cpu'; key: string }
  | { type: 'exit' };

/** What a server child answers. */
export type ChildReply =
  | { type: 'started'; key: string; port: number }
  | { type: 'stopped'; key: string }
  | { type: 'cpu'; key: string; userUs: number; systemUs: number }
  | { type: 'failed'; key: string; message: string };

/** One autocannon run against one variant. */
export interface RoundResult {
  reqPerSec: number;
  /** CPU time (user + system) the server child spent per response during the run, in microseconds. */
  cpuUsPerRequest?: number;
  /** Instructions the server child executed per response, counted by callgrind (instructions method only). */
  instructionsPerRequest?: number;
  p99Ms: number;
  requests: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

/** All rounds of one variant and their medians, or why it could not be measured. */
export interface VariantResult {
  scenarioId: string;
  variantId: string;
  label: string;
  rounds: RoundResult[];
  medianReqPerSec?: number;
  medianP99Ms?: number;
  medianCpuUsPerRequest?: number;
  medianInstructionsPerRequest?: number;
  /**
   * The lowest round's instructions per request: the requests' own work without a full garbage collection landing
   * in the round, which depends on the heap of the whole child (it hosts every server of its side).
   */
  lowestInstructionsPerRequest?: number;
  /** Set when the variant was not measured, or its responses were not the expected ones. */
  unavailable?: string;
}

/** One performance target and how the run did against it. */
export interface TargetResult {
  description: string;
  /** The lowest ratio that still holds. */
  threshold: number;
  ratio?: number;
  /**
   * The same ratio from the server's CPU time per request (denominator's over numerator's): what the req/s ratio
   * would be if the server were the only thing running. Not what the target is judged on.
   */
  cpuRatio?: number;
  /** Instructions method: the same ratio from each variant's lowest round. Not what the target is judged on. */
  lowestRatio?: number;
  status: 'holds' | 'misses' | 'not available';
  /** Why the target could not be evaluated. */
  reason?: string;
}
