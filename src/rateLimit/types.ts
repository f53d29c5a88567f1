import type { BackstageCredentials } from '@backstage/backend-plugin-api';

/** Where a rate limiter keeps its hit counts, from `backend.rateLimit.store`. @public */
export type RateLimitStoreOptions = RateLimitMemoryStoreOptions | RateLimitRedisStoreOptions;

/** Counts in the memory of this process, so each backend instance limits on its own. @public */
export interface RateLimitMemoryStoreOptions {
  type: 'memory';
}

/** Counts in Redis, shared by every backend instance on the same server. @public */
export interface RateLimitRedisStoreOptions {
  type: 'redis';
  /** A `redis://` or `rediss://` URL, or the node URLs of a Redis Cluster. Required. */
  connection: string | string[];
  /** The longest one count waits for Redis, in milliseconds. Defaults to 100. */
  timeoutMs?: number;
  /** The `Retry-After` of a fail-closed 503, in seconds. Defaults to 5. */
  retryAfterSeconds?: number;
}

/** One limiter's settings (all plugins, a plugin or a route rule), defaults filled in. @public */
export interface RateLimitOptions {
  /** How long hits are counted before a count starts again, in milliseconds. Defaults to 60 000. */
  windowMs: number;
  /** Requests per client address per window; the next gets 429. Defaults to 1000. */
  limit: number;
  /** Addresses and CIDR ranges never limited (`req.ip`). Defaults to `['127.0.0.1', '::1']`. */
  ipAllowList: readonly string[];
  /** Do not count requests answered below 400. Defaults to `false`. */
  skipSuccessfulRequests: boolean;
  /** Do not count requests answered with 400 or more, or never answered. Defaults to `false`. */
  skipFailedRequests: boolean;
  /** While Redis cannot count: `true` counts in memory, `false` answers 503. Defaults to `true`. */
  passOnStoreError: boolean;
  /** Where hits are counted. Defaults to `{ type: 'memory' }`. */
  store: RateLimitStoreOptions;
  /** Count and send headers, but let requests over a limit through. Defaults to absent: off. */
  dryRun?: true;
  /** Budgets per verified principal. Defaults to absent: every request counts per address. */
  principals?: Readonly<PrincipalRateLimits>;
  /** WebSockets a principal or address may hold open on this instance. Defaults to unlimited. */
  webSocketConnectionLimit?: number;
  /** Budgets of some routes of a plugin, besides the plugin's own. Defaults to absent: none. */
  routes?: readonly RateLimitRouteRule[];
}

/** A budget of the requests to some routes of a plugin, besides the plugin's own. @public */
export interface RateLimitRouteRule {
  /** Names its budgets (`plugin-<pluginId>-<name>`). Defaults to `route-<index>`. */
  name: string;
  /** The path, in the syntax of auth policy paths, relative to the plugin's mount path. */
  path: string;
  /** The upper-case methods it counts. Defaults to absent: every method. */
  methods?: readonly string[];
  /** Its window and limits; each left out is its plugin's. */
  options: RateLimitOptions;
}

/** Requests per principal per window: a positive whole number, or `'unlimited'`. @public */
export type PrincipalRequestLimit = number | 'unlimited';

/** The per-principal budgets of one limiter; a kind left out counts per client address. @public */
export interface PrincipalRateLimits {
  /** Requests per user entity ref per window. */
  user?: PrincipalRequestLimit;
  /** Requests per service subject per window. */
  service?: PrincipalRequestLimit;
  /** Failed authentications per address per window, then 429 before verifying credentials. */
  failedAuthentication?: number;
}

/** Which budget counted a request; the suffix of its `RateLimit-Policy` name and key. @public */
export type RateLimitBucket = 'user' | 'service' | 'address' | 'failed-authentication';

/** Everything read from `backend.rateLimit` and `backend.trustProxy`. @public */
export interface RateLimitSettings {
  /** The all-plugins limiter; `undefined` when rate limiting is off or `global` is `false`. */
  global: RateLimitOptions | undefined;
  /** One limiter per `plugin.<pluginId>` block. */
  plugins: Readonly<Record<string, RateLimitOptions>>;
  /** The secret that keys budgets. Defaults to absent: generated, or shared through Redis. */
  keySecret?: string;
  /** Problems that need not stop the backend: unknown keys, deprecated spellings, `trustProxy`. */
  warnings: readonly string[];
}

/** Verifies the credentials of a request that httpAuth cannot read, such as a WebSocket upgrade. */
export interface CredentialsReader {
  /** Whether the request offers credentials; `false` counts it per address, unverified. */
  offered: boolean;
  /** Rejects, as `httpAuth.credentials` does, when the credentials fail. */
  verify(): Promise<BackstageCredentials>;
}
