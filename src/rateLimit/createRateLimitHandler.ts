import type { LoggerService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError, toError } from '@backstage/errors';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Logger, type Store } from 'express-rate-limit';
import { createIpAllowList } from './createIpAllowList';
import { TooManyRequestsError } from './TooManyRequestsError';
import type { RateLimitOptions } from './types';

/** IPv6 clients are counted per /56 network: one customer site usually holds a whole /56 or /48. */
const IPV6_SUBNET = 56;

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
  /** Receives store failures and one-off warnings about proxy headers. Defaults to express-rate-limit's console logger. */
  logger?: LoggerService;
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
 * @public
 */
export function createRateLimitHandler(handlerOptions: RateLimitHandlerOptions): RequestHandler {
  const { options, pluginId, store, logger } = handlerOptions;
  const policyName = pluginId === undefined ? 'global' : `plugin-${pluginId}`;
  const isAllowed = createIpAllowList(options.ipAllowList);
  const warnOnce = createWarnOnce(logger);

  const limiter = rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    skipSuccessfulRequests: options.skipSuccessfulRequests,
    skipFailedRequests: options.skipFailedRequests,
    passOnStoreError: options.passOnStoreError,
    store,
    standardHeaders: 'draft-8',
    legacyHeaders: true,
    identifier: policyName,
    logger: logger && toRateLimitLogger(logger),
    // A request without an address has lost its socket; nobody is left to answer or to count.
    skip: req => req.ip === undefined || isAllowed(req.ip),
    keyGenerator(req) {
      if (req.headers['x-forwarded-for'] !== undefined && !req.app.get('trust proxy')) {
        warnOnce(
          'x-forwarded-for',
          `Rate limiter '${policyName}' saw an X-Forwarded-For header while express 'trust proxy' is off, so ` +
            'every client behind that proxy shares one limit. If the backend runs behind a proxy, set ' +
            'backend.trustProxy to the number of proxies or their addresses.',
        );
      }
      return ipKeyGenerator(req.ip!, IPV6_SUBNET);
    },
    handler(req, _res, next) {
      next(createTooManyRequestsError(req, options));
    },
  });

  return function rateLimitMiddleware(req, res, next) {
    limiter(req, res, error => {
      if (error === undefined || error === null || error instanceof TooManyRequestsError) {
        next(error);
        return;
      }
      logger?.error(`Rate limiter '${policyName}' failed; refusing the request`, toError(error));
      const retryAfterSeconds = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      if (typeof retryAfterSeconds === 'number' && !res.headersSent) {
        res.setHeader('Retry-After', String(retryAfterSeconds));
      }
      // A fresh error, so that neither the store's message nor its cause (addresses, timeouts) reach the client.
      next(new ServiceUnavailableError('Rate limiting is unavailable; try again later'));
    });
  };
}

function createTooManyRequestsError(req: Request, options: RateLimitOptions): TooManyRequestsError {
  const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
  const retryAfterSeconds = resetTime
    ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000))
    : Math.ceil(options.windowMs / 1000);
  return new TooManyRequestsError(
    `Too many requests: the limit is ${options.limit} per ${Math.ceil(options.windowMs / 1000)} seconds; try again in ${retryAfterSeconds} seconds`,
    { retryAfterSeconds },
  );
}

function toRateLimitLogger(logger: LoggerService): Logger {
  return {
    error(error, message) {
      logger.error(message ?? toError(error).message, toError(error));
    },
    warn(error, message) {
      logger.warn(message ?? toError(error).message, toError(error));
    },
  };
}

function createWarnOnce(logger: LoggerService | undefined): (id: string, message: string) => void {
  const warned = new Set<string>();
  return (id, message) => {
    if (logger && !warned.has(id)) {
      warned.add(id);
      logger.warn(message);
    }
  };
}
