import type { LoggerService } from '@backstage/backend-plugin-api';
import type { ServiceUnavailableError } from '@backstage/errors';
import type { Request, RequestHandler, Response } from 'express';
import {
  ipKeyGenerator,
  rateLimit,
  type ClientRateLimitInfo,
  type Store,
} from 'express-rate-limit';
import type { RateLimitMetrics } from '../metrics';
import { carriesCredentials } from './carriesCredentials';
import {
  answerTooManyRequests,
  countLimited,
  createTooManyRequestsHandler,
} from './answerTooManyRequests';
import { createIpAllowList } from './createIpAllowList';
import { createProxyHeaderCheck } from './createProxyHeaderCheck';
import { refuseUncounted } from './refuseUncounted';
import { TooManyRequestsError } from '../errors';
import { toRateLimitLogger } from './toRateLimitLogger';
import type { RateLimitBucket, RateLimitOptions } from './types';

/** IPv6 clients are counted per /56 network: one customer site usually holds a whole /56 or /48. */
const IPV6_SUBNET = 56;

/** The key of requests whose client address is unknown. */
const UNKNOWN_CLIENT_KEY = 'unknown-client';

/**
 * Options for {@link createRateLimiter}.
 *
 * @internal
 */
export interface RateLimiterOptions {
  /** The limiter's settings, usually from {@link readRateLimitOptions}. No default: required. */
  options: RateLimitOptions;
  /** The plugin whose router the limiter guards. Defaults to none: the all-plugins limiter. */
  pluginId?: string;
  /** Where hits are counted; one store per limiter (see {@link createRateLimitStore}). No default: required. */
  store: Store;
  /**
   * Receives express-rate-limit's messages, unexpected store failures and one-off warnings about proxy headers.
   * Defaults to none: express-rate-limit's own messages then go to the console, as with `rateLimit()` used
   * directly, and this package's warnings are not logged.
   */
  logger?: LoggerService;
  /**
   * The budget this limiter counts, for per-principal limiting: named in `RateLimit-Policy` (`plugin-<pluginId>-
   * <bucket>`) and in the 429 message, with its own limit and key. Defaults to none: one budget per client
   * address, with `options.limit`, as before per-principal budgets existed.
   */
  bucket?: RateLimiterBucket;
  /**
   * Leaves a request that carries credentials (see {@link carriesCredentials}) uncounted when this returns true:
   * a plugin router counts it per principal. Defaults to none: every request is counted.
   */
  skipWithCredentials?: (req: Request) => boolean;
  /**
   * Counts each request's decision (`allowed`, `limited`, `allow_listed`, `store_error_refuse`), with the
   * bucket kind as `bucket` for a per-principal budget. Defaults to none: nothing is recorded.
   */
  metrics?: RateLimitMetrics;
}

/**
 * One budget of a per-principal limiter.
 *
 * @internal
 */
export interface RateLimiterBucket {
  /** Which budget. No default: required. */
  kind: RateLimitBucket;
  /** Requests per key per window. No default: required. */
  limit: number;
  /**
   * The key a request counts under (see {@link clientAddressKey} for the per-address budgets). No default:
   * required. The allow list is not checked: the caller has checked it before it chose the bucket.
   */
  key: (req: Request) => string;
}

/**
 * A limiter built by {@link createRateLimiter}: the middleware, and what it counts.
 *
 * @internal
 */
export type RateLimiter = RequestHandler & {
  /** The name in `RateLimit-Policy`: `global`, `plugin-<pluginId>`, or either followed by `-<bucket>`. */
  readonly policyName: string;
  /** The budget it counts, or none for a limiter per client address without per-principal budgets. */
  readonly bucket: RateLimitBucket | undefined;
  /** The count of a key, as express-rate-limit's `getKey`: read without counting. */
  readonly getKey: (key: string) => Promise<ClientRateLimitInfo | undefined>;
  /**
   * The error to pass to `next` when this limiter's store failed outside the middleware (a `getKey`): a 503
   * without the store's message, with `Retry-After` when known, logged as the middleware logs its own failures,
   * and counted as its `store_error_refuse` decision.
   */
  readonly refuse: (res: Response, failure: unknown) => Error;
};

/**
 * The key of a request's client address, as every per-address budget counts it.
 *
 * @internal
 */
export function clientAddressKey(req: Request): string {
  return req.ip === undefined ? UNKNOWN_CLIENT_KEY : ipKeyGenerator(req.ip, IPV6_SUBNET);
}

/**
 * Builds a rate limiter from plain options with express-rate-limit's `rateLimit()`; it never reads config.
 *
 * @remarks
 * Configures `rateLimit()` through its public options only:
 * - the client key is `req.ip` through `ipKeyGenerator`, an IPv6 address collapsed to its /56 network and an
 *   IPv4-mapped address (`::ffff:1.2.3.4`) counted as the IPv4 address; a request without an address (its socket
 *   already gone) counts under one shared key rather than escaping the limit;
 * - requests from the allow list never reach `rateLimit()`; the list is matched against `req.ip` only, so that
 *   which address counts is express's `trust proxy` setting (in a Backstage backend, `backend.trustProxy`); see
 *   {@link createProxyHeaderCheck} for the warnings about proxy headers;
 * - the IETF draft 8 `RateLimit` / `RateLimit-Policy` headers, named `global` or `plugin-<pluginId>`, and the
 *   legacy `X-RateLimit-*` ones; over the limit, `Retry-After` and a 429 written by
 *   {@link answerTooManyRequests}, so that the limiter answers alone in any express app;
 * - `req.rateLimit` is whatever express-rate-limit sets.
 *
 * Failing open is the store's decision (the Redis store counts in memory while Redis cannot, when
 * `passOnStoreError` is set), so `rateLimit()` always gets `passOnStoreError: false`: a store that rejects means
 * the request must not pass, and `rateLimit()` would otherwise log every such request to its logger. The
 * rejection becomes a `ServiceUnavailableError` (503) that does not reveal the store's message, with `Retry-After`
 * when the store's error carries `retryAfterSeconds`. A {@link RateLimitStoreUnavailableError} is not logged
 * again (the Redis store logs an outage once when it starts and once when it ends); any other store failure is.
 *
 * With `metrics`, every request the limiter sees gives exactly one decision, except those it leaves to the plugin
 * routers (`skipWithCredentials`): `allow_listed` before `rateLimit()` runs, `limited` in its `handler`,
 * `allowed` when it passes the request on, `store_error_refuse` when the store failed.
 *
 * @internal
 */
export function createRateLimiter(limiterOptions: RateLimiterOptions): RateLimiter {
  const { options, pluginId, store, logger, bucket, skipWithCredentials, metrics } = limiterOptions;
  const limiterName = pluginId === undefined ? 'global' : `plugin-${pluginId}`;
  const policyName = bucket ? `${limiterName}-${bucket.kind}` : limiterName;
  const isAllowed = createIpAllowList(options.ipAllowList);
  const checkProxyHeaders = createProxyHeaderCheck({ policyName, logger });

  const limiter = rateLimit({
    store,
    windowMs: options.windowMs,
    limit: bucket?.limit ?? options.limit,
    identifier: policyName,
    standardHeaders: 'draft-8',
    legacyHeaders: true,
    skipSuccessfulRequests: options.skipSuccessfulRequests,
    skipFailedRequests: options.skipFailedRequests,
    passOnStoreError: false,
    keyGenerator: bucket?.key ?? clientAddressKey,
    handler: countLimited(
      bucket ? createTooManyRequestsHandler(bucket.kind.replace('-', ' ')) : answerTooManyRequests,
      metrics,
      bucket?.kind,
    ),
    logger: logger && toRateLimitLogger(logger, policyName),
    // Every start-up and per-request validation of express-rate-limit stays on: none contradicts a choice of
    // ours. Those of its default key generator (an undefined or invalid `req.ip`, `trust proxy` true,
    // X-Forwarded-For or Forwarded ignored) do not run with a key generator of our own; the unknown-client key,
    // the start-up warning about `backend.trustProxy: true` and createProxyHeaderCheck stand in for them.
  });

  // The allow list is checked here rather than in rateLimit()'s `skip`, so that a request passed on by rateLimit()
  // is known to be an allowed one. With passOnStoreError false, rateLimit() hands the store's own error to next.
  // Options of express-rate-limit for answering store failures (as `handler` answers the limit) and for hearing of
  // allowed requests would make this wrapper unnecessary.
  const refuse = (res: Response, failure: unknown): ServiceUnavailableError => {
    metrics?.recordDecision('store_error_refuse', bucket?.kind);
    return refuseUncounted(res, failure, policyName, logger);
  };

  const middleware: RequestHandler = function rateLimitMiddleware(req, res, next) {
    if (!bucket) {
      const allowed = isAllowed(req.ip);
      checkProxyHeaders(req, allowed);
      // Left to the plugin router, which checks the same allow list and records this limiter's one decision.
      if (carriesCredentials(req) && skipWithCredentials?.(req) === true) {
        next();
        return;
      }
      if (allowed) {
        metrics?.recordDecision('allow_listed');
        next();
        return;
      }
    }
    void limiter(req, res, (failure?: unknown) => {
      if (failure === undefined) {
        metrics?.recordDecision('allowed', bucket?.kind);
        next();
      } else if (failure instanceof TooManyRequestsError) {
        // The handler's own error, when headers were already sent: counted as limited there, and no store failure.
        next(failure);
      } else {
        next(refuse(res, failure));
      }
    });
  };
  return Object.assign(middleware, {
    policyName,
    bucket: bucket?.kind,
    getKey: async (key: string) => limiter.getKey(key),
    refuse,
  });
}
