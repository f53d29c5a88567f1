import type { BackstageCredentials } from '@backstage/backend-plugin-api';
/**
 * Where a rate limiter keeps its hit counts, as read from `backend.rateLimit.store`.
 *
 * @public
 */
export type RateLimitStoreOptions = RateLimitMemoryStoreOptions | RateLimitRedisStoreOptions;

/**
 * Counts hits in the memory of this process, so each backend instance limits on its own.
 *
 * @public
 */
export interface RateLimitMemoryStoreOptions {
  type: 'memory';
}

/**
 * Counts hits in Redis, shared by every backend instance that uses the same server.
 *
 * @public
 */
export interface RateLimitRedisStoreOptions {
  type: 'redis';
  /** A `redis://` or `rediss://` URL, or the node URLs of a Redis Cluster. No default: required. */
  connection: string | string[];
  /** The longest one count waits for Redis, in milliseconds, from `store.timeout`. Defaults to 100. */
  timeoutMs?: number;
  /** The `Retry-After` of a fail-closed 503, in seconds, from `store.retryAfter`. Defaults to 5. */
  retryAfterSeconds?: number;
}

/**
 * The settings of one limiter, the all-plugins limiter or one plugin's, with every default filled in.
 *
 * @public
 */
export interface RateLimitOptions {
  /** How long a client's hits are counted before its count starts again, in milliseconds. Defaults to 60 000. */
  windowMs: number;
  /** Requests per client per window; the next one is refused with 429. Defaults to 1000. */
  limit: number;
  /** Addresses and CIDR ranges never limited, matched against `req.ip`. Defaults to `['127.0.0.1', '::1']`. */
  ipAllowList: readonly string[];
  /** Do not count requests answered with a status below 400. Defaults to `false`. */
  skipSuccessfulRequests: boolean;
  /** Do not count requests answered with 400 or more, or never answered. Defaults to `false`. */
  skipFailedRequests: boolean;
  /** While Redis cannot count: `true` counts in memory meanwhile, `false` answers 503. Defaults to `true`. */
  passOnStoreError: boolean;
  /** Where hits are counted. Defaults to `{ type: 'memory' }`. */
  store: RateLimitStoreOptions;
  /** Count and send headers, but let over-limit requests through with a warning. Defaults to none: off. */
  dryRun?: true;
  /** Budgets per verified principal; left out when none of their keys is set. Defaults to none. */
  principals?: Readonly<PrincipalRateLimits>;
  /**
   * The most WebSockets one principal (or one address, without verified credentials) may hold open at once on
   * this backend instance, from `webSocketConnectionLimit`. Defaults to none (the property is left out):
   * unlimited.
   */
  webSocketConnectionLimit?: number;
  /** The budgets of a plugin's routes, from `routes`. Defaults to none (the property is left out). */
  routes?: readonly RateLimitRouteRule[];
}

/**
 * A budget of the requests to some routes of a plugin, counted besides the plugin's own.
 *
 * @public
 */
export interface RateLimitRouteRule {
  /** Names its budgets (`plugin-<pluginId>-<name>`). Defaults to `route-<index>`. */
  name: string;
  /** The path, in the syntax of auth policy paths, relative to the plugin's mount path. */
  path: string;
  /** The upper-case methods it counts. Defaults to none (the property is left out): every method. */
  methods?: readonly string[];
  /** Its window and limits, each taken from its plugin block when the rule leaves it out. */
  options: RateLimitOptions;
}

/**
 * A budget per principal: a positive whole number of requests per window, or `'unlimited'` (never counted).
 *
 * @public
 */
export type PrincipalRequestLimit = number | 'unlimited';

/**
 * The per-principal budgets of one limiter; a kind left out is counted per client address.
 *
 * @public
 */
export interface PrincipalRateLimits {
  /** Requests per user entity ref per window (`userRequestLimit`). */
  user?: PrincipalRequestLimit;
  /** Requests per service subject per window (`serviceRequestLimit`). */
  service?: PrincipalRequestLimit;
  /** Failures of the same credentials per address per window, then 429 before verifying them. */
  failedAuthentication?: number;
}

/**
 * Which budget counted a request; also the suffix of its `RateLimit-Policy` name and key prefix.
 *
 * @public
 */
export type RateLimitBucket = 'user' | 'service' | 'address' | 'failed-authentication';

/**
 * Everything read from `backend.rateLimit` and `backend.trustProxy`.
 *
 * @public
 */
export interface RateLimitSettings {
  /** The all-plugins limiter, or `undefined` when rate limiting is off or `global` is `false`. */
  global: RateLimitOptions | undefined;
  /** One limiter per `plugin.<pluginId>` block, over the top-level block. */
  plugins: Readonly<Record<string, RateLimitOptions>>;
  /** The secret that keys budgets, from `keySecret`. Defaults to none: generated, or shared through Redis. */
  keySecret?: string;
  /** Problems that do not stop the backend (unknown keys, deprecated spellings, a risky `trustProxy`). */
  warnings: readonly string[];
}

/** Verifies the credentials of a request that httpAuth cannot read, such as a WebSocket upgrade. */
export interface CredentialsReader {
  /** Whether the request offers credentials to verify; `false` counts it per address, unverified. */
  offered: boolean;
  /** Rejects, as `httpAuth.credentials` does, when the credentials fail. */
  verify(): Promise<BackstageCredentials>;
}
