import type { LifecycleService, LoggerService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError, serializeError, toError } from '@backstage/errors';
import type { Request, RequestHandler, Response } from 'express';
import type { AugmentedRequest, Options, Store } from 'express-rate-limit';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { BlockList, isIP } from 'node:net';
import { markAsLogged, RateLimitStoreUnavailableError, TooManyRequestsError } from '../errors';
import type { RateLimitMetrics } from '../metrics';
import { isIpAllowListEntry, TRUST_PROXY_CONFIG_KEY } from './config';
import type { CredentialsReader, RateLimitBucket, RateLimitOptions } from './types';

/** IPv6 clients count per /56 network: one customer site usually holds a whole /56 or /48. */
const IPV6_SUBNET = 56;
/** Backstage's user cookie (a whole cookie name, spaces around `=` as cookie parsers allow), and its value. */
export const AUTH_COOKIE = /(?:^|;)\s*backstage-auth\s*=\s*([^;]*)/;
/** The `res.locals` key of the credentials reader of a request httpAuth cannot read (a WebSocket upgrade). */
export const CREDENTIALS_READER = Symbol('rate-limit credentials reader');
/** What the `handler` passes on in a dry run, so that the request is neither refused nor counted as allowed. */
const DRY_RUN_PASS = Symbol('rate-limit dry run');

/** The `RateLimit-Policy` name of a limiter: `global`, `plugin-<pluginId>` or `plugin-<pluginId>-<route>`. */
export function limiterName(pluginId: string | undefined, route?: string): string {
  if (pluginId === undefined) return 'global';
  return route === undefined ? `plugin-${pluginId}` : `plugin-${pluginId}-${route}`;
}

/** `req.ip` (an IPv6 address as its /56 network), or `unknown-client` once the socket is gone. */
export function clientAddressKey(req: Request): string {
  const { ip } = req; // express computes it anew on every read.
  return ip === undefined ? 'unknown-client' : ipKeyGenerator(ip, IPV6_SUBNET);
}

export const credentialsReaderOf = (res: Response): CredentialsReader | undefined =>
  res.locals[CREDENTIALS_READER as never];

/** Whether a request brings credentials: `Authorization`, the user cookie, or what its own reader says. */
export function carriesCredentials(req: Request, res: Response): boolean {
  const reader = credentialsReaderOf(res);
  if (reader) return reader.offered;
  const { authorization, cookie } = req.headers;
  return authorization !== undefined || (cookie !== undefined && AUTH_COOKIE.test(cookie));
}

/** A predicate on `req.ip`, none for an empty list; `BlockList` matches IPv4-mapped IPv6 as its IPv4. */
export function createIpAllowList(
  entries: readonly string[],
): ((ip: string | undefined) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    if (!isIpAllowListEntry(entry)) {
      throw new TypeError(`Not an IP address or CIDR range: ${JSON.stringify(entry)}`);
    }
    const [address, prefix] = entry.split('/');
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return function isAllowed(ip) {
    const version = ip === undefined ? 0 : isIP(ip);
    return version !== 0 && list.check(ip!, version === 4 ? 'ipv4' : 'ipv6');
  };
}

/** express-rate-limit's `rateLimit()`, with a read that does not count, and its 503. */
export type Limiter = RequestHandler & {
  readonly windowMs: number;
  /** Whether the request's key is at its limit in the current window (never in a dry run), uncounted. */
  readonly isSpent: (req: Request, res: Response) => Promise<boolean>;
  /** The 503 for a store failure outside the middleware, recorded as `store_error_refuse`. */
  readonly refuse: (res: Response, failure: unknown) => Error;
};

/** Options for {@link createLimiter}; `pluginId` and `route` name it as {@link limiterName} does. */
export interface LimiterOptions {
  options: RateLimitOptions;
  pluginId?: string;
  route?: string;
  store: Store;
  /** Defaults to none: express-rate-limit's messages go to the console. */
  logger?: LoggerService;
  /** A per-principal budget; its caller checked the allow list. Defaults to none: per address, `options.limit`. */
  bucket?: { kind: RateLimitBucket; limit: number; key: (req: Request, res: Response) => string };
  /** Passes a request on uncounted when it returns true. Defaults to none. */
  skip?: (req: Request, res: Response) => boolean;
  metrics?: RateLimitMetrics;
  /** Turns each key into what the store and `RateLimit-Policy` see. Defaults to the key itself. */
  digestKey?: (key: string) => string | Promise<string>;
}

/** Builds a limiter on the store of its key prefix, which it keeps when it is rebuilt. */
export type BuildLimiter = (
  options: Omit<LimiterOptions, 'store' | 'digestKey'> & { lifecycle?: LifecycleService },
) => Limiter;

/**
 * A limiter with draft-8 and legacy headers; over the limit a 429 in Backstage's error body, written by the
 * `handler` so that it answers alike in any express app. Failing open is the store's decision: a rejecting
 * store gives a 503 `ServiceUnavailableError`, with `Retry-After` when the error has `retryAfterSeconds`.
 */
export function createLimiter(limiterOptions: LimiterOptions): Limiter {
  const { options, pluginId, route, store, logger, bucket, skip, metrics, digestKey } =
    limiterOptions;
  const keyOf = bucket?.key ?? clientAddressKey;
  const keyGenerator = digestKey
    ? (req: Request, res: Response) => digestKey(keyOf(req, res))
    : keyOf;
  const kind = bucket?.kind;
  const policyName = `${limiterName(pluginId, route)}${kind ? `-${kind}` : ''}`;
  const limit = bucket?.limit ?? options.limit;
  const { windowMs, dryRun } = options;
  const isAllowed = bucket ? undefined : createIpAllowList(options.ipAllowList);
  const checkProxyHeaders = createProxyHeaderCheck(policyName, logger);
  const named = kind && `the ${kind.replace('-', ' ')} limit`;
  const answer = createTooManyRequestsHandler(
    route === undefined ? named : `${named ?? 'the limit'} of route '${route}'`,
  );
  const log = (level: 'warn' | 'error') => (error: unknown, message?: string) => {
    const cause = toError(error);
    logger![level](`Rate limiter '${policyName}': ${message ?? cause.message}`, cause);
  };
  let quietUntil = 0;
  // Its own key-generator validations do not run with our key generator: the unknown-client key, the start-up
  // warning about `backend.trustProxy: true` and the proxy header check stand in for them.
  const limiter = rateLimit({
    store,
    windowMs,
    limit,
    identifier: policyName,
    standardHeaders: 'draft-8',
    legacyHeaders: true,
    skipSuccessfulRequests: options.skipSuccessfulRequests,
    skipFailedRequests: options.skipFailedRequests,
    passOnStoreError: false,
    // A limiter rebuilt for new settings takes over its predecessor's store, and so its counts.
    validate: { unsharedStore: false },
    keyGenerator,
    handler(req, res, next, optionsUsed) {
      metrics?.recordDecision(dryRun ? 'dry_run_limited' : 'limited', kind);
      if (!dryRun) return answer(req, res, next, optionsUsed);
      res.removeHeader('Retry-After');
      if (Date.now() >= quietUntil) {
        quietUntil = Date.now() + windowMs;
        logger?.warn(
          `Rate limiter '${policyName}' would have refused a request (dryRun): its limit is ` +
            `${optionsUsed.limit} per ${windowMs} ms; not said again for ${windowMs} ms`,
        );
      }
      next(DRY_RUN_PASS);
    },
    logger: logger && { warn: log('warn'), error: log('error') },
  });

  const refuse = (res: Response, failure: unknown): Error => {
    metrics?.recordDecision('store_error_refuse', kind);
    const retryAfter = (failure as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (typeof retryAfter === 'number' && !res.headersSent) {
      res.setHeader('Retry-After', String(retryAfter));
    }
    // A fresh error, so that neither the store's message nor its cause reach the client.
    const refusal = new ServiceUnavailableError('Rate limiting is unavailable; try again later');
    // The Redis store logs an outage when it starts and when it ends.
    if (failure instanceof RateLimitStoreUnavailableError) return markAsLogged(refusal);
    logger?.error(`Rate limiter '${policyName}' failed; refusing the request`, toError(failure));
    return logger ? markAsLogged(refusal) : refusal;
  };

  // The allow list is checked here rather than in `skip`, so that a request rateLimit() passes on is an allowed
  // one. If express-rate-limit reported allowed requests and store failures to callbacks, this would go.
  const middleware: RequestHandler = function rateLimitMiddleware(req, res, next) {
    if (!bucket) {
      const allowed = isAllowed !== undefined && isAllowed(req.ip);
      checkProxyHeaders(req, allowed);
      if (skip?.(req, res)) return next();
      if (allowed) {
        metrics?.recordDecision('allow_listed');
        return next();
      }
    }
    void limiter(req, res, (failure?: unknown) => {
      if (failure === undefined) metrics?.recordDecision('allowed', kind);
      if (failure === undefined || failure === DRY_RUN_PASS) return next();
      // A TooManyRequestsError is the handler's own, when headers were already sent.
      next(failure instanceof TooManyRequestsError ? failure : refuse(res, failure));
    });
  };
  const isSpent = async (req: Request, res: Response) => {
    const count = await limiter.getKey(await keyGenerator(req, res));
    const current = (count?.resetTime?.getTime() ?? Infinity) > Date.now();
    return !dryRun && count !== undefined && count.totalHits >= limit && current;
  };
  return Object.assign(middleware, { windowMs, isSpent, refuse });
}

/**
 * express-rate-limit's `handler`: 429, `Retry-After` and Backstage's error body, naming the budget (never whose
 * it is); the seconds until the client's window ends, or the whole window when the store does not say.
 * @param named - How the message names the limit. Defaults to `the limit`.
 */
export function createTooManyRequestsHandler(named = 'the limit'): Options['handler'] {
  return function answerTooManyRequests(req, res, next, optionsUsed) {
    const { limit, resetTime } = (req as AugmentedRequest)[optionsUsed.requestPropertyName];
    const windowSeconds = Math.ceil(optionsUsed.windowMs / 1000);
    const retryAfterSeconds = resetTime
      ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000))
      : windowSeconds;
    const message = `Too many requests: ${named} is ${limit} per ${windowSeconds} seconds`;
    const retry = `try again in ${retryAfterSeconds} seconds`;
    const error = new TooManyRequestsError(`${message}; ${retry}`, { retryAfterSeconds });
    if (res.headersSent) return next(error);
    // Set again, so that the header and the message agree to the second.
    res.setHeader('Retry-After', String(retryAfterSeconds));
    res.status(error.statusCode).json({
      error: serializeError(error),
      request: { method: req.method, url: req.originalUrl },
      response: { statusCode: error.statusCode },
    });
  };
}

/**
 * Warns once per limiter and problem when proxy headers show it counts the wrong address: an allow-listed peer
 * forwards other clients, or `X-Forwarded-For` arrives while `trust proxy` is off. If express-rate-limit ran its
 * own such checks with every key generator, the second warning could go.
 */
export function createProxyHeaderCheck(
  policyName: string,
  logger: LoggerService | undefined,
): (req: Request, allowed: boolean) => void {
  let warnedAllowListed = false;
  let warnedUntrusted = false;
  return function checkProxyHeaders(req, allowed) {
    if (!logger || (warnedAllowListed && warnedUntrusted)) return;
    const forwardedFor = req.headers['x-forwarded-for'] !== undefined;
    if (allowed) {
      // req.ip differs from the socket peer only when express took it from a trusted proxy's header.
      const proxied = forwardedFor || req.headers.forwarded !== undefined;
      if (!warnedAllowListed && proxied && req.ip === req.socket?.remoteAddress) {
        warnedAllowListed = true;
        logger.warn(
          `Rate limiter '${policyName}' lets requests from ${req.ip} through uncounted (ipAllowList), but they ` +
            'carry X-Forwarded-For or Forwarded: a proxy there forwards clients that nobody limits. Set ' +
            `${TRUST_PROXY_CONFIG_KEY} (e.g. 'loopback'; express ignores Forwarded) or unlist the proxy.`,
        );
      }
    } else if (!warnedUntrusted && forwardedFor && !req.app.get('trust proxy')) {
      warnedUntrusted = true;
      logger.warn(
        `Rate limiter '${policyName}' saw an X-Forwarded-For header while express 'trust proxy' is off, so all ` +
          `clients behind a proxy share one limit; set ${TRUST_PROXY_CONFIG_KEY} to its hop count or address.`,
      );
    }
  };
}
