import { createHash } from 'node:crypto';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError, toError } from '@backstage/errors';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  ipKeyGenerator,
  type IncrementResponse,
  type Options,
  type Store,
} from 'express-rate-limit';
import { isThenable } from '../isThenable';
import { createIpAllowList } from './createIpAllowList';
import { setRateLimitInfo } from './setRateLimitInfo';
import { TooManyRequestsError } from './TooManyRequestsError';
import type { RateLimitOptions } from './types';

/** IPv6 clients are counted per /56 network: one customer site usually holds a whole /56 or /48. */
const IPV6_SUBNET = 56;

/** The key of requests whose client address is unknown. */
const UNKNOWN_CLIENT_KEY = 'unknown-client';

/** How many client addresses (and partition keys) are remembered before a cache starts again. */
const CLIENT_CACHE_SIZE = 10_000;

/**
 * Options for {@link createRateLimitHandler}.
 *
 * @public
 */
export interface RateLimitHandlerOptions {
  /** The limiter's settings, usually from {@link readRateLimitOptions}. No default: required. */
  options: RateLimitOptions;
  /** The plugin whose router the limiter guards. Defaults to none: the all-plugins limiter. */
  pluginId?: string;
  /** Where hits are counted; one store per limiter (see {@link createRateLimitStore}). No default: required. */
  store: Store;
  /** Receives store failures and one-off warnings about proxy headers. Defaults to none. */
  logger?: LoggerService;
}

/** A client address as the limiter counts it: its store key and its `RateLimit-Policy` header value. */
interface Client {
  key: string;
  policyHeader: string;
}

/** What the limiter leaves on `req.rateLimit`, as express-rate-limit does. */
interface RateLimitInfo {
  limit: number;
  used: number;
  remaining: number;
  resetTime: Date | undefined;
  key: string;
}

/**
 * Builds a rate limiter from plain options; it never reads config.
 *
 * @remarks
 * Counts requests per client key: `req.ip`, with an IPv6 address collapsed to its /56 network and an
 * IPv4-mapped address (`::ffff:1.2.3.4`) counted as the IPv4 address; the store keeps each limiter's keys
 * apart (see {@link createRateLimitStore}). Only `req.ip` is used, so which address counts is express's `trust proxy` setting
 * (in a Backstage backend, `backend.trustProxy`); a header the client sends decides nothing unless that setting
 * trusts it. The allow list is matched against `req.ip` too, never the socket peer, so a proxy does not exempt
 * the clients behind it. Allow-listed requests are not counted and get no rate limit headers.
 *
 * Counted requests get the IETF draft 8 `RateLimit-Policy` and `RateLimit` headers, named `global` or
 * `plugin-<pluginId>`, and the legacy `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
 * Over the limit, `Retry-After` is set and {@link TooManyRequestsError} is passed to `next`, so the error
 * handler writes Backstage's error body with status 429. When the store fails, the request passes uncounted
 * with `passOnStoreError`, and otherwise fails with a `ServiceUnavailableError` (503) that does not reveal the
 * store's error, with `Retry-After` when the store's error carries `retryAfterSeconds`; the failure is logged
 * either way.
 *
 * The counting uses express-rate-limit's store contract and client key, with a request path of its own: the
 * generic `rateLimit()` middleware awaits every option (skip, key, limit, name) and hashes the key for every
 * response, which cost a quarter of a small route's throughput in `npm run bench`; here a request that the store
 * answers at once costs one await, and constant header parts are computed once.
 *
 * @public
 */
export function createRateLimitHandler(handlerOptions: RateLimitHandlerOptions): RequestHandler {
  const { options, pluginId, store, logger } = handlerOptions;
  const { windowMs, limit, passOnStoreError, skipSuccessfulRequests, skipFailedRequests } = options;
  const policyName = pluginId === undefined ? 'global' : `plugin-${pluginId}`;
  const isAllowed = createIpAllowList(options.ipAllowList);
  const limitHeader = String(limit);
  const policyPrefix = `"${policyName}"; q=${limit}; w=${Math.ceil(windowMs / 1000)}; pk=:`;
  const toClient = (key: string): Client => ({
    key,
    policyHeader: `${policyPrefix}${toPartitionKey(key)}:`,
  });
  // Parsing an address for the allow list and its /56 key, and hashing the key for the draft 8 partition key,
  // cost microseconds; a client sends many requests, so all three are worked out once per address.
  const clientOf = createBoundedCache(CLIENT_CACHE_SIZE, (ip: string) =>
    isAllowed(ip) ? null : toClient(ipKeyGenerator(ip, IPV6_SUBNET)),
  );
  // A request without an address (its socket already gone) is still counted, under one shared key, so that no
  // request escapes the limit; upstream counts those under an empty key too.
  const unknownClient = toClient(UNKNOWN_CLIENT_KEY);
  let warnedAboutForwardedFor = false;
  const countsOutcome = skipSuccessfulRequests || skipFailedRequests;

  // A custom store may initialise asynchronously; its failure is logged rather than left unhandled.
  Promise.resolve(store.init?.({ windowMs } as Options)).catch(error =>
    logger?.error(`Rate limiter '${policyName}' could not initialise its store`, toError(error)),
  );

  const setHeaders = (res: Response, info: RateLimitInfo, client: Client) => {
    if (res.headersSent) {
      return;
    }
    const resetSeconds = secondsUntil(info.resetTime, windowMs);
    res.setHeader('X-RateLimit-Limit', limitHeader);
    res.setHeader('X-RateLimit-Remaining', String(info.remaining));
    if (info.resetTime) {
      res.setHeader('X-RateLimit-Reset', String(Math.ceil(info.resetTime.getTime() / 1000)));
    }
    // Appended, so that the all-plugins limiter and a plugin's limiter both show on one response.
    appendHeader(res, 'RateLimit', `"${policyName}"; r=${info.remaining}; t=${resetSeconds}`);
    appendHeader(res, 'RateLimit-Policy', client.policyHeader);
  };

  const uncountWhenSkipped = (res: Response, key: string, resetTime: Date | undefined) => {
    let uncounted = false;
    const uncount = () => {
      if (uncounted || (resetTime && Date.now() >= resetTime.getTime())) {
        return;
      }
      uncounted = true;
      Promise.resolve(store.decrement(key)).catch(error =>
        logger?.error(
          `Rate limiter '${policyName}' could not uncount a skipped request`,
          toError(error),
        ),
      );
    };
    res.once('finish', () => {
      const failed = res.statusCode >= 400;
      if (failed ? skipFailedRequests : skipSuccessfulRequests) {
        uncount();
      }
    });
    if (skipFailedRequests) {
      // A request that was never answered (the client left, the socket failed) counts as failed.
      res.once('close', () => {
        if (!res.writableEnded) {
          uncount();
        }
      });
      res.once('error', uncount);
    }
  };

  const onStoreError = (res: Response, next: (err?: unknown) => void, error: unknown) => {
    if (passOnStoreError) {
      logger?.error(
        `Rate limiter '${policyName}' failed, allowing request without rate-limiting`,
        toError(error),
      );
      next();
      return;
    }
    logger?.error(`Rate limiter '${policyName}' failed; refusing the request`, toError(error));
    const retryAfterSeconds = (error as { retryAfterSeconds?: unknown } | undefined)
      ?.retryAfterSeconds;
    if (typeof retryAfterSeconds === 'number' && !res.headersSent) {
      res.setHeader('Retry-After', String(retryAfterSeconds));
    }
    // A fresh error, so that neither the store's message nor its cause (addresses, timeouts) reach the client.
    next(new ServiceUnavailableError('Rate limiting is unavailable; try again later'));
  };

  /** Records a counted request and returns the error that refuses it, or `undefined` to let it through. */
  const count = (
    req: Request,
    res: Response,
    client: Client,
    totalHits: number,
    resetTime: Date | undefined,
  ): TooManyRequestsError | undefined => {
    const info: RateLimitInfo = {
      limit,
      used: totalHits,
      remaining: Math.max(limit - totalHits, 0),
      resetTime,
      key: client.key,
    };
    setRateLimitInfo(req, info);
    setHeaders(res, info, client);
    if (countsOutcome) {
      uncountWhenSkipped(res, client.key, resetTime);
    }
    if (totalHits <= limit) {
      return undefined;
    }
    const retryAfterSeconds = secondsUntil(resetTime, windowMs);
    if (!res.headersSent) {
      res.setHeader('Retry-After', String(retryAfterSeconds));
    }
    return new TooManyRequestsError(
      `Too many requests: the limit is ${limit} per ${Math.ceil(windowMs / 1000)} seconds; try again in ${retryAfterSeconds} seconds`,
      { retryAfterSeconds },
    );
  };

  /** Counts the store's answer and lets the request on, or refuses it. */
  const settle = (
    req: Request,
    res: Response,
    next: NextFunction,
    client: Client,
    response: IncrementResponse,
  ) => {
    let refusal: unknown;
    try {
      refusal = count(req, res, client, response.totalHits, response.resetTime);
    } catch (error) {
      refusal = error;
    }
    // Outside the try: what runs after the limiter must not be mistaken for the limiter's own failure.
    next(refusal);
  };

  return function rateLimitMiddleware(req, res, next) {
    const ip = req.ip;
    const client = ip === undefined ? unknownClient : clientOf(ip);
    if (client === null) {
      next();
      return;
    }
    if (
      !warnedAboutForwardedFor &&
      req.headers['x-forwarded-for'] !== undefined &&
      !req.app.get('trust proxy')
    ) {
      warnedAboutForwardedFor = true;
      logger?.warn(
        `Rate limiter '${policyName}' saw an X-Forwarded-For header while express 'trust proxy' is off, so ` +
          'every client behind that proxy shares one limit. If the backend runs behind a proxy, set ' +
          'backend.trustProxy to the number of proxies or their addresses.',
      );
    }
    let counted: ReturnType<Store['increment']>;
    try {
      counted = store.increment(client.key);
    } catch (error) {
      onStoreError(res, next, error);
      return;
    }
    // A store that answers at once (the memory store does) lets the request on without waiting for a promise.
    if (!isThenable(counted)) {
      settle(req, res, next, client, counted);
      return;
    }
    Promise.resolve(counted)
      .then(
        response => settle(req, res, next, client, response),
        error => onStoreError(res, next, error),
      )
      // next() has already been called; a throw from further down only needs to be seen, not answered twice.
      .then(undefined, error =>
        logger?.error(`Rate limiter '${policyName}': a later handler threw`, toError(error)),
      );
  };
}

/** Adds a value to a header that another limiter may have set already, as express's `res.append` does. */
function appendHeader(res: Response, name: string, value: string): void {
  const previous = res.getHeader(name);
  if (previous === undefined) {
    res.setHeader(name, value);
  } else {
    res.setHeader(name, ([] as string[]).concat(previous as string | string[], value));
  }
}

/** Whole seconds until `resetTime`, or the whole window when the store does not say. */
function secondsUntil(resetTime: Date | undefined, windowMs: number): number {
  return resetTime
    ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000))
    : Math.ceil(windowMs / 1000);
}

/** The draft 8 partition key of a client key: the first 12 hex digits of its SHA-256, in base64. */
function toPartitionKey(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return Buffer.from(hex).toString('base64');
}

/** Remembers `compute` for up to `size` inputs, then starts again, so that memory stays bounded. */
function createBoundedCache<T>(size: number, compute: (input: string) => T): (input: string) => T {
  let cache = new Map<string, T>();
  return input => {
    if (cache.has(input)) {
      return cache.get(input) as T;
    }
    const value = compute(input);
    if (cache.size >= size) {
      cache = new Map();
    }
    cache.set(input, value);
    return value;
  };
}
