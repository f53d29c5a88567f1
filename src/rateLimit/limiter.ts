import type { LoggerService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError, serializeError, toError } from '@backstage/errors';
import type { Request, RequestHandler, Response } from 'express';
import {
  type AugmentedRequest,
  type ClientRateLimitInfo,
  ipKeyGenerator,
  rateLimit,
  type RateLimitExceededEventHandler,
  type Store,
} from 'express-rate-limit';
import { BlockList, isIP } from 'node:net';
import { RateLimitStoreUnavailableError, TooManyRequestsError } from '../errors';
import type { RateLimitMetrics } from '../metrics';
import { markAsLogged } from '../errors';
import { isIpAllowListEntry, TRUST_PROXY_CONFIG_KEY } from './config';
import type { CredentialsReader, RateLimitBucket, RateLimitOptions } from './types';

/** IPv6 clients are counted per /56 network: one customer site usually holds a whole /56 or /48. */
const IPV6_SUBNET = 56;
/** The key of requests whose client address is unknown (their socket already gone). */
const UNKNOWN_CLIENT_KEY = 'unknown-client';
/** Backstage's user cookie (a whole cookie name), which httpAuth reads on `user-cookie` paths. */
export const AUTH_COOKIE = /(?:^|;\s*)backstage-auth=([^;]*)/;

/** The `RateLimit-Policy` name of a limiter: `global`, `plugin-<pluginId>` or `plugin-<pluginId>-<route>`. */
export function limiterName(pluginId: string | undefined, route?: string): string {
  if (pluginId === undefined) return 'global';
  return route === undefined ? `plugin-${pluginId}` : `plugin-${pluginId}-${route}`;
}

/** The key of a request's client address: `req.ip`, an IPv6 address collapsed to its /56 network. */
export function clientAddressKey(req: Request): string {
  // express computes `req.ip` anew on every read.
  const { ip } = req;
  return ip === undefined ? UNKNOWN_CLIENT_KEY : ipKeyGenerator(ip, IPV6_SUBNET);
}

/**
 * The `res.locals` key of a request's own credentials reader, for requests that httpAuth cannot read (a WebSocket
 * upgrade, whose token may travel in `Sec-WebSocket-Protocol`).
 */
export const CREDENTIALS_READER = Symbol('rate-limit credentials reader');

/** The credentials reader a request brought, if any. */
export function credentialsReaderOf(res: Response): CredentialsReader | undefined {
  return res.locals[CREDENTIALS_READER as never];
}

/**
 * Whether a request brings credentials to verify: an `Authorization` header or the user cookie, or what its own
 * credentials reader says.
 */
export function carriesCredentials(req: Request, res: Response): boolean {
  const reader = credentialsReaderOf(res);
  if (reader) return reader.offered;
  const { authorization, cookie } = req.headers;
  return authorization !== undefined || (cookie !== undefined && AUTH_COOKIE.test(cookie));
}

/**
 * Compiles valid allow-list entries into a predicate on `req.ip`; Node's `BlockList` matches an IPv4-mapped
 * IPv6 address as the IPv4 address it carries.
 */
export function createIpAllowList(
  entries: readonly string[],
): ((ip: string | undefined) => boolean) | undefined {
  // None for an empty list, so that callers need not compute `req.ip` (express does so on every read).
  if (entries.length === 0) {
    return undefined;
  }
  const list = new BlockList();
  for (const entry of entries) {
    if (!isIpAllowListEntry(entry)) {
      throw new TypeError(`Not an IP address or CIDR range: ${JSON.stringify(entry)}`);
    }
    const [address, prefix] = entry.split('/');
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(address, family);
    } else {
      list.addSubnet(address, Number(prefix), family);
    }
  }
  return function isAllowed(ip) {
    const version = ip === undefined ? 0 : isIP(ip);
    return version !== 0 && list.check(ip!, version === 4 ? 'ipv4' : 'ipv6');
  };
}

/** What the `handler` passes on in a dry run, so that the request is neither refused nor counted as allowed. */
const DRY_RUN_PASS = Symbol('rate-limit dry run');

/** One limiter: express-rate-limit's `rateLimit()`, with its `RateLimit-Policy` name and what it counts. */
export type Limiter = RequestHandler & {
  /** `global`, `plugin-<pluginId>` or `plugin-<pluginId>-<route>`, optionally followed by `-<bucket>`. */
  readonly policyName: string;
  /** Requests per key per window. */
  readonly limit: number;
  readonly windowMs: number;
  /** Over the limit, lets requests through (`dryRun`). */
  readonly dryRun: boolean;
  /** A request's count, read without counting (express-rate-limit's `getKey`). */
  readonly countOf: (req: Request, res: Response) => Promise<ClientRateLimitInfo | undefined>;
  /** The 503 for a store failure outside the middleware, recorded as this limiter's `store_error_refuse`. */
  readonly refuse: (res: Response, failure: unknown) => Error;
};

/** Options for {@link createLimiter}. */
export interface LimiterOptions {
  options: RateLimitOptions;
  /** The plugin whose router the limiter guards. Defaults to none: the all-plugins limiter. */
  pluginId?: string;
  /** The name of the plugin's route rule the limiter counts. Defaults to none: the plugin's own budget. */
  route?: string;
  store: Store;
  /** Receives express-rate-limit's messages, store failures and proxy header warnings. Defaults to none. */
  logger?: LoggerService;
  /**
   * The per-principal budget this limiter counts, with its limit and key; the caller checked the allow list.
   * Defaults to none: per client address, with `options.limit`.
   */
  bucket?: { kind: RateLimitBucket; limit: number; key: (req: Request, res: Response) => string };
  /** Passes a request on uncounted when it returns true (a plugin router counts it). Defaults to none. */
  skip?: (req: Request, res: Response) => boolean;
  /** Counts each request's decision. Defaults to none. */
  metrics?: RateLimitMetrics;
  /** Turns each key into what the store and `RateLimit-Policy` see. Defaults to none: the key itself. */
  digestKey?: (key: string) => Promise<string>;
}

/**
 * Builds a limiter from plain options with express-rate-limit's `rateLimit()`, through its public options only.
 *
 * @remarks
 * Draft-8 and legacy headers; over the limit a 429 in Backstage's error body, written by the `handler` so that
 * the limiter answers alike in any express app. Failing open is the store's decision, so `rateLimit()` gets
 * `passOnStoreError: false` and a rejecting store gives a fresh `ServiceUnavailableError` (503), without the
 * store's message, with `Retry-After` when the store's error has `retryAfterSeconds`. Each request it sees gives
 * one decision: `allow_listed`, `limited`, `allowed` or `store_error_refuse`.
 */
export function createLimiter(limiterOptions: LimiterOptions): Limiter {
  const { options, pluginId, route, store, logger, bucket, skip, metrics, digestKey } =
    limiterOptions;
  const keyOf = bucket?.key ?? clientAddressKey;
  const keyGenerator = digestKey
    ? async (req: Request, res: Response) => digestKey(keyOf(req, res))
    : keyOf;
  const name = limiterName(pluginId, route);
  const policyName = bucket ? `${name}-${bucket.kind}` : name;
  const isAllowed = createIpAllowList(options.ipAllowList);
  const checkProxyHeaders = createProxyHeaderCheck(policyName, logger);
  const named = bucket && `the ${bucket.kind.replace('-', ' ')} limit`;
  const dryRun = options.dryRun === true;
  let quietUntil = 0;
  const answer = createTooManyRequestsHandler(
    route === undefined ? named : `${named ?? 'the limit'} of route '${route}'`,
  );
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
    // A limiter rebuilt for new settings takes over its predecessor's store, and so its counts.
    validate: { unsharedStore: false },
    keyGenerator,
    handler(req, res, next, optionsUsed) {
      if (!dryRun) {
        metrics?.recordDecision('limited', bucket?.kind);
        answer(req, res, next, optionsUsed);
        return;
      }
      metrics?.recordDecision('dry_run_limited', bucket?.kind);
      res.removeHeader('Retry-After');
      if (Date.now() >= quietUntil) {
        quietUntil = Date.now() + options.windowMs;
        logger?.warn(
          `Rate limiter '${policyName}' would have refused a request (dryRun): its limit is ` +
            `${optionsUsed.limit} per ${options.windowMs} ms; not said again for ${options.windowMs} ms`,
        );
      }
      next(DRY_RUN_PASS);
    },
    logger: logger && {
      warn: (error, message) =>
        logger.warn(
          `Rate limiter '${policyName}': ${message ?? toError(error).message}`,
          toError(error),
        ),
      error: (error, message) =>
        logger.error(
          `Rate limiter '${policyName}': ${message ?? toError(error).message}`,
          toError(error),
        ),
    },
    // Its key-generator validations do not run with a key generator of our own; the unknown-client key, the
    // start-up warning about `backend.trustProxy: true` and the proxy header check stand in for them.
  });

  const refuse = (res: Response, failure: unknown): Error => {
    metrics?.recordDecision('store_error_refuse', bucket?.kind);
    const retryAfterSeconds = (failure as { retryAfterSeconds?: unknown } | null)
      ?.retryAfterSeconds;
    if (typeof retryAfterSeconds === 'number' && !res.headersSent) {
      res.setHeader('Retry-After', String(retryAfterSeconds));
    }
    // A fresh error, so that neither the store's message nor its cause reach the client.
    const refusal = new ServiceUnavailableError('Rate limiting is unavailable; try again later');
    if (failure instanceof RateLimitStoreUnavailableError) {
      return markAsLogged(refusal); // The Redis store logs an outage when it starts and when it ends.
    }
    logger?.error(`Rate limiter '${policyName}' failed; refusing the request`, toError(failure));
    return logger ? markAsLogged(refusal) : refusal;
  };

  // The allow list is checked here rather than in `skip`, so that a request rateLimit() passes on is an allowed
  // one. If express-rate-limit reported allowed requests and store failures to callbacks, this would go.
  const middleware: RequestHandler = function rateLimitMiddleware(req, res, next) {
    if (!bucket) {
      const allowed = isAllowed !== undefined && isAllowed(req.ip);
      checkProxyHeaders(req, allowed);
      if (skip?.(req, res)) {
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
      } else if (failure === DRY_RUN_PASS) {
        next();
      } else if (failure instanceof TooManyRequestsError) {
        next(failure); // The handler's own, when headers were already sent.
      } else {
        next(refuse(res, failure));
      }
    });
  };
  return Object.assign(middleware, {
    policyName,
    limit: bucket?.limit ?? options.limit,
    windowMs: options.windowMs,
    dryRun,
    countOf: async (req: Request, res: Response) => limiter.getKey(await keyGenerator(req, res)),
    refuse,
  });
}

/**
 * The `handler` of express-rate-limit: 429, `Retry-After` and Backstage's error body, naming the budget (never
 * whose it is); the seconds until the client's window ends, or the whole window when the store does not say.
 *
 * @param named - How the message names the limit. Defaults to `the limit`.
 */
export function createTooManyRequestsHandler(named = 'the limit'): RateLimitExceededEventHandler {
  return function answerTooManyRequests(req, res, next, optionsUsed) {
    const { windowMs, requestPropertyName } = optionsUsed;
    const { limit, resetTime } = (req as AugmentedRequest)[requestPropertyName];
    const retryAfterSeconds = resetTime
      ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000))
      : Math.ceil(windowMs / 1000);
    const error = new TooManyRequestsError(
      `Too many requests: ${named} is ${limit} per ${Math.ceil(windowMs / 1000)} seconds; try again in ${retryAfterSeconds} seconds`,
      { retryAfterSeconds },
    );
    if (res.headersSent) {
      next(error);
      return;
    }
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
 * Warns once per limiter and problem when proxy headers show the limiter counts the wrong address: an
 * allow-listed peer forwards other clients (none of them limited), or `X-Forwarded-For` arrives while express's
 * `trust proxy` is off (all of them share one limit). If express-rate-limit ran its own such checks for every
 * request, not only in its default key generator, the second warning could go.
 */
export function createProxyHeaderCheck(
  policyName: string,
  logger: LoggerService | undefined,
): (req: Request, allowed: boolean) => void {
  let warnedAllowListed = false;
  let warnedUntrusted = false;
  return function checkProxyHeaders(req, allowed) {
    if (!logger || (warnedAllowListed && warnedUntrusted)) {
      return;
    }
    const forwardedFor = req.headers['x-forwarded-for'] !== undefined;
    if (allowed) {
      // req.ip differs from the socket peer only when express took it from a trusted proxy's header.
      const proxied = forwardedFor || req.headers.forwarded !== undefined;
      if (!warnedAllowListed && proxied && req.ip === req.socket?.remoteAddress) {
        warnedAllowListed = true;
        logger.warn(
          `Rate limiter '${policyName}' lets requests from ${req.ip} through uncounted because that address is on ` +
            'its ipAllowList, but they carry an X-Forwarded-For or Forwarded header: a proxy at that address ' +
            'forwards other clients, and none of them is rate limited. Set ' +
            `${TRUST_PROXY_CONFIG_KEY} so that express takes the client's address from X-Forwarded-For (for ` +
            "example 'loopback' for a proxy on the same host; express ignores Forwarded), or take the proxy's " +
            'address off the allow list.',
        );
      }
      return;
    }
    if (!warnedUntrusted && forwardedFor && !req.app.get('trust proxy')) {
      warnedUntrusted = true;
      logger.warn(
        `Rate limiter '${policyName}' saw an X-Forwarded-For header while express 'trust proxy' is off, so ` +
          'every client behind that proxy shares one limit. If the backend runs behind a proxy, set ' +
          `${TRUST_PROXY_CONFIG_KEY} to the number of proxies or their addresses.`,
      );
    }
  };
}
