/**
 * Where a rate limiter keeps its hit counts, as read from `backend.rateLimit.store`.
 *
 * @remarks
 * `memory` counts in the process, so each backend instance limits on its own; `redis` shares counts between
 * instances. See {@link createRateLimitStore}.
 *
 * @public
 */
export type RateLimitStoreOptions = RateLimitMemoryStoreOptions | RateLimitRedisStoreOptions;

/**
 * Counts hits in the memory of this process.
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
  /**
   * A Redis URL such as `redis://host:6379` (`rediss://` for TLS), or the node URLs of a Redis cluster, as a list
   * or one comma-separated string. No default: required.
   */
  connection: string | string[];
  /** The longest a request waits for Redis, in milliseconds, from `store.timeout`. Defaults to 100. */
  timeoutMs?: number;
  /** The `Retry-After` of a fail-closed 503, in seconds, from `store.retryAfter`. Defaults to 5. */
  retryAfterSeconds?: number;
}

/**
 * The settings of one limiter: the all-plugins limiter or the limiter of one plugin.
 *
 * @remarks
 * Produced by {@link readRateLimitOptions} from `backend.rateLimit`, with every default filled in, and used by
 * {@link createRateLimitMiddleware}, which builds a limiter from it.
 *
 * @public
 */
export interface RateLimitOptions {
  /** How long a client's hits are counted before its count starts again, in milliseconds. Defaults to 60 000. */
  windowMs: number;
  /** How many requests a client may make in one window; the next one is refused with 429. Defaults to 1000. */
  limit: number;
  /**
   * Addresses and CIDR ranges that are never limited, compared with `req.ip` only.
   * Defaults to `['127.0.0.1', '::1']`.
   */
  ipAllowList: readonly string[];
  /** Do not count requests answered with a status below 400. Defaults to `false`. */
  skipSuccessfulRequests: boolean;
  /** Do not count requests answered with a status of 400 or more, or never answered. Defaults to `false`. */
  skipFailedRequests: boolean;
  /**
   * What the Redis store does while Redis cannot count: `true` fails open (it counts in memory on this instance
   * meanwhile), `false` fails closed with 503 and `Retry-After`. The store decides; the memory store never fails.
   * Defaults to `true`.
   */
  passOnStoreError: boolean;
  /** Where hits are counted. Defaults to `{ type: 'memory' }`. */
  store: RateLimitStoreOptions;
  /**
   * Budgets per verified principal, from `userRequestLimit`, `serviceRequestLimit` and
   * `failedAuthenticationLimit`. Defaults to none (the property is left out): every request is counted per
   * client address, as before these keys existed.
   */
  principals?: Readonly<PrincipalRateLimits>;
  /**
   * The most WebSockets one principal (or one address, without verified credentials) may hold open at once on
   * this backend instance, from `webSocketConnectionLimit`. Defaults to none (the property is left out):
   * unlimited.
   */
  webSocketConnectionLimit?: number;
}

/**
 * A budget per principal: a positive whole number of requests per window, or `'unlimited'` (never counted).
 *
 * @public
 */
export type PrincipalRequestLimit = number | 'unlimited';

/**
 * The per-principal budgets of one limiter; a kind left out is counted per client address, as today.
 *
 * @remarks
 * Read by {@link readRateLimitOptions} from `userRequestLimit`, `serviceRequestLimit` and
 * `failedAuthenticationLimit`; present on {@link RateLimitOptions} only when at least one of them is set.
 *
 * @public
 */
export interface PrincipalRateLimits {
  /** Requests per user entity ref per window. Defaults to none: users are counted per client address. */
  user?: PrincipalRequestLimit;
  /** Requests per service subject per window. Defaults to none: services are counted per client address. */
  service?: PrincipalRequestLimit;
  /**
   * Requests with credentials that fail verification, per client address per window; past it, the address's
   * requests with credentials get 429 before they are verified. Defaults to none: no such cut-off.
   */
  failedAuthentication?: number;
}

/**
 * Which budget counted a request; also the suffix of the `RateLimit-Policy` name and of the store prefix.
 *
 * @remarks
 * `anonymous` is the per-address budget of requests without verified credentials (`incomingRequestLimit`),
 * `failed-authentication` the per-address count of credentials that failed verification.
 *
 * @public
 */
export type RateLimitBucket = 'user' | 'service' | 'anonymous' | 'failed-authentication';

/**
 * Everything {@link readRateLimitOptions} reads from `backend.rateLimit` and `backend.trustProxy`.
 *
 * @public
 */
export interface RateLimitSettings {
  /** The all-plugins limiter, or `undefined` when rate limiting is off or `global` is `false`. */
  global: RateLimitOptions | undefined;
  /**
   * One limiter per plugin that has a `plugin.<pluginId>` block, with the keys the block leaves out taken from
   * the top-level block.
   */
  plugins: Readonly<Record<string, RateLimitOptions>>;
  /** Problems that do not stop the backend (unknown keys, deprecated spellings, a risky `trustProxy`). */
  warnings: readonly string[];
}
