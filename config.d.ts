import type { HumanDuration } from '@backstage/types';

/**
 * Settings of one rate limiter, shared by the top-level `backend.rateLimit` block and its
 * `backend.rateLimit.plugin.<pluginId>` blocks. A plugin block takes every key it leaves out from the top-level
 * block.
 */
interface RateLimitBlock {
  /**
   * How long a client's requests are counted before its count starts again: a duration string such as `'1m'`,
   * an ISO duration such as `'PT1M'`, or an object such as `{ minutes: 1 }`. With the memory store, at most
   * 2147483647 ms (about 24.8 days, the longest a Node.js timer waits); with Redis, at most 9007199254740991 ms.
   * Longer is a start-up error. Defaults to one minute.
   * @visibility backend
   */
  window?: string | HumanDuration;
  /**
   * How many requests one client (one IPv4 address, or one IPv6 /56 network) may make per window; the next
   * one is refused with 429. A positive whole number. Defaults to 1000, which a busy Backstage UI user with
   * several tabs stays well under (upstream's default is express-rate-limit's 5).
   * @visibility backend
   */
  incomingRequestLimit?: number;
  /**
   * Requests per signed-in user (per user entity ref, as verified by httpAuth) per window, instead of per
   * address: users behind one proxy or NAT each get this budget. A positive whole number, or `'unlimited'`.
   * `incomingRequestLimit` then applies to requests without verified credentials only. At the top level, a
   * budget per user across all plugins, counted in each plugin router; in a plugin block, per user for that
   * plugin. Defaults to none: users are counted per address, with `incomingRequestLimit`.
   * @visibility backend
   */
  userRequestLimit?: number | 'unlimited';
  /**
   * Requests per calling service (per subject, such as `plugin:catalog` or `external:ci-bot`) per window,
   * instead of per address. A positive whole number, or `'unlimited'` to never count services. Defaults to
   * none: services are counted per address, with `incomingRequestLimit`.
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
   * The most WebSockets one signed-in user or calling service (or one client, as `incomingRequestLimit` counts
   * it, for upgrades without verified credentials) may hold open at once on one backend instance; one more
   * upgrade is refused with 429, and a closed socket frees its place. A positive whole number. At the top level,
   * across all plugins; in a plugin block, for that plugin. Defaults to none: unlimited.
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
   * Addresses and CIDR ranges (IPv4 or IPv6, such as `'10.0.0.0/8'` or `'2001:db8::/32'`) that are never
   * limited. Matched against the client address that `backend.trustProxy` yields, never against the proxy
   * that connected. Defaults to `['127.0.0.1', '::1']`.
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
   * Do not count requests answered with a status of 400 or more, or that were never answered. Defaults to
   * false.
   * @visibility backend
   */
  skipFailedRequests?: boolean;
  /**
   * What happens when the store cannot count a request: true fails open (the Redis store counts in memory on
   * each instance meanwhile), false fails closed with 503 and `Retry-After`. Defaults to true.
   * @visibility backend
   */
  passOnStoreError?: boolean;
  /**
   * Where requests are counted. `memory` counts per backend instance; `redis` shares counts between instances.
   * An unknown type is a start-up error. Defaults to `{ type: 'memory' }`.
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
         * A `redis://` or `rediss://` (TLS) URL such as `redis://:password@redis.internal:6379/0`, or the
         * nodes of a Redis Cluster separated by commas (`redis://10.0.0.1:6379,redis://10.0.0.2:6379`). No
         * default: required. A string, as `@backstage/backend-defaults` declares it, since Backstage merges
         * both schemas.
         * @visibility secret
         */
        connection: string;
        /**
         * The longest a request waits for Redis before it is counted in memory on this instance (or refused,
         * with `passOnStoreError: false`): a duration such as `'100ms'` or `{ milliseconds: 100 }`. At most
         * 2147483647 ms (about 24.8 days, the longest a Node.js timer waits); longer is a start-up error.
         * Defaults to 100 milliseconds.
         * @visibility backend
         */
        timeout?: string | HumanDuration;
        /**
         * The `Retry-After` sent with the 503 of a store that fails closed: a whole number of seconds as a
         * duration, such as `'5s'`. At most 2147483647 ms (about 24.8 days), as every duration read here;
         * longer is a start-up error. Defaults to 5 seconds.
         * @visibility backend
         */
        retryAfter?: string | HumanDuration;
      };
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
   * The secret that keys budgets (HMAC), so that neither `RateLimit-Policy` nor Redis key names reveal a user
   * or an address. Defaults to a random one, shared through Redis by instances that use it.
   * @visibility secret
   */
  keySecret?: string;
  /**
   * One limiter per plugin, keyed by plugin id, in front of that plugin's routes. A plugin without a block here
   * gets no limiter of its own. Defaults to none.
   */
  plugin?: {
    [pluginId: string]: RateLimitBlock;
  };
}

export interface Config {
  backend?: {
    /**
     * Rate limiting of incoming requests. `true` turns on the all-plugins limiter with the defaults; an object
     * sets the all-plugins limiter with its top-level keys and adds a limiter per plugin under `plugin`.
     * Leaving it out turns rate limiting off.
     */
    rateLimit?: true | RateLimitTopLevelBlock;

    /**
     * The express `trust proxy` setting, which decides the client address that rate limiting counts and
     * allow-lists: false (the socket peer), a hop count, or proxy addresses and CIDR ranges. `true` trusts
     * every X-Forwarded-For entry, so any client can pick its address; a start-up warning says so when rate
     * limiting is on. Applied by the root HTTP router. Defaults to false.
     * @visibility backend
     */
    trustProxy?: boolean | number | string | string[];

    lifecycle?: {
      /**
       * How long a request that arrives before its plugin has started waits for it, before it is answered
       * with 503: a duration such as `'10s'`, `'PT10S'` or `{ seconds: 10 }`. At most 2147483647 ms (about 24.8
       * days, the longest a Node.js timer waits); longer is a start-up error. Defaults to 5 seconds.
       * @visibility backend
       */
      startupRequestPauseTimeout?: string | HumanDuration;
    };

    auth?: {
      /**
       * Turns off the credentials barrier: requests reach plugins without user or service credentials. A
       * warning is logged at start-up. Defaults to false.
       * @visibility backend
       */
      dangerouslyDisableDefaultAuthPolicy?: boolean;
    };
  };
}
