import type { HumanDuration } from '@backstage/types';

/**
 * Settings of one rate limiter, shared by the top-level `backend.rateLimit` block and its
 * `backend.rateLimit.plugin.<pluginId>` blocks. A plugin block takes every key it leaves out from the top-level
 * block.
 */
interface RateLimitBlock {
  /**
   * How long requests are counted before a count starts again: `'1m'`, `'PT1M'` or `{ minutes: 1 }`. At most
   * 2147483647 ms (about 24.8 days) with the memory store. Defaults to one minute.
   * @visibility backend
   */
  window?: string | HumanDuration;
  /**
   * Requests per client (an IPv4 address or an IPv6 /56 network) per window; the next gets 429. A positive whole
   * number. Defaults to 1000; upstream's is 5.
   * @visibility backend
   */
  incomingRequestLimit?: number;
  /**
   * Requests per verified user (entity ref) per window, instead of per address, so users behind one NAT each
   * get this budget. A positive whole number, or `'unlimited'`. At the top level across all plugins, in a plugin
   * block for that plugin. Defaults to none: users count per address.
   * @visibility backend
   */
  userRequestLimit?: number | 'unlimited';
  /**
   * Requests per verified service (subject, such as `plugin:catalog`) per window, instead of per address. A
   * positive whole number, or `'unlimited'`. Defaults to none: services count per address.
   * @visibility backend
   */
  serviceRequestLimit?: number | 'unlimited';
  /**
   * Requests whose credentials fail verification, per client address per window. Past it, every request with
   * credentials from that address gets 429 before its credentials are verified, until the window ends. A
   * positive whole number. Defaults to none: failed authentications count only in `incomingRequestLimit`.
   * @visibility backend
   */
  failedAuthenticationLimit?: number;
  /**
   * The most WebSockets one user, service or (without verified credentials) client may hold open at once on one
   * backend instance; one more upgrade gets 429. A positive whole number. At the top level across all plugins, in
   * a plugin block for that plugin. Defaults to none: unlimited.
   * @visibility backend
   */
  webSocketConnectionLimit?: number;
  /**
   * Count and send headers as usual, but let requests over a limit through: each is recorded as
   * `dry_run_limited`, with one warning per budget per window. Defaults to false.
   * @visibility backend
   */
  dryRun?: boolean;
  /**
   * Addresses and CIDR ranges (IPv4 or IPv6) never limited, matched against the client address that
   * `backend.trustProxy` yields. Defaults to `['127.0.0.1', '::1']`.
   * @visibility backend
   */
  ipAllowList?: string[];
  /**
   * Do not count requests answered with a status below 400. Defaults to false.
   * @visibility backend
   */
  skipSuccessfulRequests?: boolean;
  /**
   * Deprecated misspelling of `skipSuccessfulRequests`, accepted with a warning. Setting both is an error.
   * @visibility backend
   * @deprecated Use skipSuccessfulRequests.
   */
  skipSuccesfulRequests?: boolean;
  /**
   * Do not count requests answered with 400 or more, or never answered. Defaults to false.
   * @visibility backend
   */
  skipFailedRequests?: boolean;
  /**
   * When the store cannot count: true counts in memory on each instance meanwhile, false answers 503 with
   * `Retry-After`. Defaults to true.
   * @visibility backend
   */
  passOnStoreError?: boolean;
  /**
   * Where requests are counted; an unknown type is a start-up error. Defaults to `{ type: 'memory' }`.
   */
  store?:
    | {
        /**
         * Count in the memory of each backend instance.
         * @visibility backend
         */
        type: 'memory';
      }
    | {
        /**
         * Count in Redis, shared by every backend instance.
         * @visibility backend
         */
        type: 'redis';
        /**
         * A `redis://` or `rediss://` (TLS) URL such as `redis://:password@redis.internal:6379/0`, or Redis
         * Cluster nodes separated by commas. No default: required.
         * @visibility secret
         */
        connection: string;
        /**
         * The longest one count waits for Redis before the fallback (`passOnStoreError`), such as `'100ms'`.
         * Defaults to 100 milliseconds.
         * @visibility backend
         */
        timeout?: string | HumanDuration;
        /**
         * The `Retry-After` of the 503 of a store that fails closed, such as `'5s'`. Defaults to 5 seconds.
         * @visibility backend
         */
        retryAfter?: string | HumanDuration;
      };
}

/** A `backend.rateLimit.plugin.<pluginId>` block: the plugin's limiter, and budgets for some of its routes. */
interface RateLimitPluginBlock extends RateLimitBlock {
  /**
   * Budgets for some routes of the plugin, counted besides the plugin's own: a request counts in every rule
   * it matches and in the plugin's budgets, and the first one spent answers 429. Defaults to none.
   */
  routes?: {
    /**
     * Names the rule's budgets (`plugin-<pluginId>-<name>`): letters, digits, `-`, `_` and `.`, unique in the
     * plugin, not a budget kind (`user`, `service`, `address`, `failed-authentication`). Defaults to `route-<index>`.
     * @visibility backend
     */
    name?: string;
    /**
     * The requests the rule counts, relative to the plugin's mount path, with the syntax and meaning of
     * `addAuthPolicy` paths (`/v2/tasks`, `/entities/:kind`; a prefix up to a segment boundary, any case).
     * No default: required.
     * @visibility backend
     */
    path: string;
    /**
     * An HTTP method or a list of them, in any case; `GET` also counts `HEAD`. Defaults to every method.
     * @visibility backend
     */
    method?: string | string[];
    /**
     * As the plugin block's `window`. Defaults to the plugin block's.
     * @visibility backend
     */
    window?: string | HumanDuration;
    /**
     * As the plugin block's `dryRun`, for this rule's budgets. Defaults to the plugin block's.
     * @visibility backend
     */
    dryRun?: boolean;
    /**
     * As the plugin block's `incomingRequestLimit`, for this rule's requests. A rule sets at least one of
     * `incomingRequestLimit`, `userRequestLimit` and `serviceRequestLimit`. Defaults to the plugin block's.
     * @visibility backend
     */
    incomingRequestLimit?: number;
    /**
     * As the plugin block's `userRequestLimit`, for this rule's requests. Defaults to the plugin block's.
     * @visibility backend
     */
    userRequestLimit?: number | 'unlimited';
    /**
     * As the plugin block's `serviceRequestLimit`, for this rule's requests. Defaults to the plugin block's.
     * @visibility backend
     */
    serviceRequestLimit?: number | 'unlimited';
  }[];
}

/** The top-level `backend.rateLimit` block: the all-plugins limiter, and the defaults of plugin blocks. */
interface RateLimitTopLevelBlock extends RateLimitBlock {
  /**
   * Whether the all-plugins limiter is on. `false` turns off only that limiter; plugin blocks still apply.
   * Defaults to true.
   * @visibility backend
   */
  global?: boolean;
  /**
   * The secret that keys budgets (HMAC), so that `RateLimit-Policy` and Redis key names reveal no user or address.
   * Defaults to a random one, kept in Redis for instances that share it.
   * @visibility secret
   */
  keySecret?: string;
  /**
   * A limiter per plugin id, in front of that plugin's routes; a plugin without a block has none of its own.
   * Defaults to none.
   */
  plugin?: {
    [pluginId: string]: RateLimitPluginBlock;
  };
}

export interface Config {
  backend?: {
    /**
     * Rate limiting: `true` for the all-plugins limiter with defaults; an object for the all-plugins limiter and
     * plugin blocks under `plugin`. Leaving it out turns rate limiting off.
     */
    rateLimit?: true | RateLimitTopLevelBlock;

    /**
     * The express `trust proxy` setting, which decides the client address rate limiting counts: false (the
     * socket peer), a hop count, or proxy addresses and CIDR ranges. `true` lets any client pick its address (a
     * start-up warning says so). Defaults to false.
     * @visibility backend
     */
    trustProxy?: boolean | number | string | string[];

    lifecycle?: {
      /**
       * How long a request waits for its plugin to start before a 503, such as `'10s'`. Defaults to 5 seconds.
       * @visibility backend
       */
      startupRequestPauseTimeout?: string | HumanDuration;
    };

    auth?: {
      /**
       * Turns off the credentials barrier (a start-up warning says so). Defaults to false.
       * @visibility backend
       */
      dangerouslyDisableDefaultAuthPolicy?: boolean;
    };
  };
}
