import type { HttpAuthService, LoggerService } from '@backstage/backend-plugin-api';
import type { Request, RequestHandler, Response } from 'express';
import { createHash } from 'node:crypto';
import {
  AUTH_COOKIE,
  carriesCredentials,
  clientAddressKey,
  type BuildLimiter,
  createIpAllowList,
  credentialsReaderOf,
  createProxyHeaderCheck,
  type Limiter,
} from './limiter';
import type { PrincipalRequestLimit, RateLimitBucket } from './types';

/** What an auth policy asks of a path: nothing (credentials required), `user-cookie` or `unauthenticated`. */
export type PathAccess = 'unauthenticated' | 'user-cookie' | undefined;

/** `res.locals` keys: the verified principal, and the digest of the credentials presented. */
const PRINCIPAL = Symbol('rate-limit principal');
const CREDENTIAL_DIGEST = Symbol('rate-limit credential digest');
/** The most digests of lately verified credentials kept per plugin router; the oldest go first. */
const MAX_VERIFIED_DIGESTS = 10_000;
/** Failures on our side while verifying (no signing keys) say nothing about the token: not counted as failed. */
const TRANSIENT_ERROR_CODES = new Set(
  'ERR_JWKS_TIMEOUT ECONNREFUSED ECONNRESET ETIMEDOUT EAI_AGAIN UND_ERR_CONNECT_TIMEOUT'.split(' '),
);
const RATE_LIMIT_HEADERS =
  'RateLimit RateLimit-Policy X-RateLimit-Limit X-RateLimit-Remaining X-RateLimit-Reset'.split(' ');

type Verdict = 'none' | 'failed' | 'user' | 'service';

/** The budgets of one layer, a plugin's or the all-plugins one. */
export type Budgets = ReturnType<typeof createBudgets>;

/**
 * Builds one limiter per budget of a layer, and logs their summary (naming it `name`). A principal kind without
 * a budget counts in `address`, as requests without verified credentials do; `'unlimited'` is never counted.
 */
export function createBudgets(
  budgetOptions: Omit<Parameters<BuildLimiter>[0], 'bucket' | 'skip'> & {
    name: string;
    build: BuildLimiter;
  },
) {
  const { name, build, options, ...shared } = budgetOptions;
  const { user, service, failedAuthentication } = options.principals ?? {};
  shared.logger?.info(
    `Rate limiting ${name} per principal: address ${options.limit}, user ${user ?? 'per address'}, ` +
      `service ${service ?? 'per address'}, failed authentications ${failedAuthentication ?? 'not limited'} ` +
      `per ${options.windowMs} ms, ${options.store.type} store`,
  );
  const principalKey = (_req: Request, res: Response): string =>
    res.locals[PRINCIPAL as never] ?? 'unknown-principal';
  const failureKey = (req: Request, res: Response) =>
    `${clientAddressKey(req)}:${res.locals[CREDENTIAL_DIGEST as never]}`;
  // Failed authentications (401s) stay counted whatever the skip options say, or the cut-off never comes.
  const unskipped = { ...options, skipSuccessfulRequests: false, skipFailedRequests: false };
  const budget = (kind: RateLimitBucket, limit: number, key = principalKey) => {
    const own = kind === 'failed-authentication' ? unskipped : options;
    return build({ ...shared, options: own, bucket: { kind, limit, key } });
  };
  const perPrincipal = (kind: 'user' | 'service', limit?: PrincipalRequestLimit) =>
    typeof limit === 'number' ? budget(kind, limit) : limit;
  return {
    isAllowed: createIpAllowList(options.ipAllowList),
    metrics: shared.metrics,
    address: budget('address', options.limit, clientAddressKey),
    user: perPrincipal('user', user),
    service: perPrincipal('service', service),
    failedAuthentication: failedAuthentication
      ? budget('failed-authentication', failedAuthentication, failureKey)
      : undefined,
  };
}

/** One layer of a plugin router's per-principal counting. */
export interface PrincipalLayer {
  budgets: Budgets;
  /** The all-plugins layer counts only requests with credentials the root router left to it. */
  counts: (req: Request, res: Response) => boolean;
}

/**
 * Counts each request in the budget of its verified principal (per address without one, or on `unauthenticated`
 * paths), verifying with the access mode the credentials barrier will ask for, so that httpAuth's cache answers
 * it. Before verifying, all layers' counts are read at once: credentials past the failed-authentication limit,
 * or an address over its budget whose credentials did not verify lately, get that budget's 429.
 */
export function createPrincipalLimiter(options: {
  layers: readonly PrincipalLayer[];
  httpAuth: HttpAuthService;
  lookupAccess?: (path: string) => PathAccess;
  policyName: string;
  logger?: LoggerService;
}): RequestHandler {
  const { layers, httpAuth, lookupAccess = () => undefined, policyName, logger } = options;
  const checkProxyHeaders = createProxyHeaderCheck(policyName, logger);
  // Digests of credentials verified lately, to the end of the longest window: these pass an address's budget.
  const verifiedUntil = new Map<string, number>();
  const windowMs = Math.max(...layers.map(({ budgets }) => budgets.address.windowMs));

  const verify = async (req: Request, res: Response, access: PathAccess): Promise<Verdict> => {
    const reader = credentialsReaderOf(res);
    let principal: { type?: string; userEntityRef?: string; subject?: string };
    try {
      const credentials = await (reader
        ? reader.verify()
        : httpAuth.credentials(req, { allowLimitedAccess: access === 'user-cookie' }));
      principal = credentials.principal as typeof principal;
    } catch (error) {
      return isFailedAuthentication(error) ? 'failed' : 'none';
    }
    const { type, userEntityRef, subject } = principal;
    if (type !== 'user' && type !== 'service') return 'none';
    res.locals[PRINCIPAL as never] = (type === 'user' ? userEntityRef : subject) as never;
    return type;
  };

  const choose = async (req: Request, res: Response, active: PrincipalLayer[]) => {
    // HTTP auth policies do not apply to a request with a reader of its own (a WebSocket upgrade).
    const access = credentialsReaderOf(res) ? undefined : lookupAccess(req.path);
    if (!carriesCredentials(req, res) || access === 'unauthenticated') {
      return chooseLimiters(active, 'none');
    }
    const digest = credentialDigest(req);
    res.locals[CREDENTIAL_DIGEST as never] = digest as never;
    // A spent failed-authentication budget, or unless these verified lately an address budget, refuses them
    // unverified; a dry run verifies and counts as usual, and its limiter records what it would have refused.
    const verifiedLately = (verifiedUntil.get(digest) ?? 0) > Date.now();
    const checks = active.flatMap(({ budgets: { failedAuthentication, address } }) => [
      ...(failedAuthentication ? [failedAuthentication] : []),
      ...(verifiedLately ? [] : [address]),
    ]);
    const reads = await Promise.allSettled(checks.map(limiter => limiter.isSpent(req, res)));
    for (const [index, read] of reads.entries()) {
      if (read.status === 'rejected') return checks[index].refuse(res, read.reason);
      if (read.value) return [checks[index]];
    }
    const verdict = await verify(req, res, access);
    if (verdict === 'user' || verdict === 'service') {
      verifiedUntil.delete(digest);
      verifiedUntil.set(digest, Date.now() + windowMs);
      if (verifiedUntil.size > MAX_VERIFIED_DIGESTS) {
        verifiedUntil.delete(verifiedUntil.keys().next().value!);
      }
    }
    return chooseLimiters(active, verdict);
  };

  return function principalRateLimit(req, res, next) {
    const active: PrincipalLayer[] = [];
    for (const layer of layers) {
      if (!layer.counts(req, res)) continue;
      if (layer.budgets.isAllowed?.(req.ip)) layer.budgets.metrics?.recordDecision('allow_listed');
      else active.push(layer);
    }
    checkProxyHeaders(req, active.length === 0);
    if (active.length === 0) return next();
    choose(req, res, active).then(chosen => {
      if (chosen instanceof Error) return next(chosen);
      // One that answers 429 never calls on, which ends the request there.
      const run = (index: number) =>
        index === chosen.length
          ? next()
          : chosen[index](req, res, error => (error === undefined ? run(index + 1) : next(error)));
      return run(0);
    }, next);
  };
}

function isFailedAuthentication(error: unknown): boolean {
  type Failure = { name?: unknown; code?: unknown; cause?: { code?: unknown } | null };
  const { name, code, cause } = (error ?? {}) as Failure;
  const transient = [code, cause?.code].some(each => TRANSIENT_ERROR_CODES.has(String(each)));
  return name !== 'ServiceUnavailableError' && !transient;
}

/** A digest of the credentials a request presents, so that no key holds them. */
function credentialDigest(req: Request): string {
  const { authorization, cookie, 'sec-websocket-protocol': protocols } = req.headers;
  const presented = [protocols, authorization, cookie && AUTH_COOKIE.exec(cookie)?.[1]];
  return createHash('sha256').update(presented.join('\n')).digest('base64url').slice(0, 22);
}

function chooseLimiters(layers: readonly PrincipalLayer[], verdict: Verdict): RequestHandler[] {
  const limiters: RequestHandler[] = [];
  const failed: Limiter[] = [];
  for (const { budgets } of layers) {
    const own = verdict === 'user' || verdict === 'service' ? budgets[verdict] : undefined;
    if (own === undefined) limiters.push(budgets.address);
    else if (own !== 'unlimited') limiters.push(own);
    const cutOff = verdict === 'failed' && budgets.failedAuthentication;
    if (cutOff) failed.push(cutOff);
  }
  // Last, after the address budgets' headers are taken off: a 401 tells of the budget that cuts it off.
  if (failed.length > 0) limiters.push(clearRateLimitHeaders, ...failed);
  return limiters;
}

function clearRateLimitHeaders(_req: Request, res: Response, next: () => void): void {
  RATE_LIMIT_HEADERS.forEach(header => res.removeHeader(header));
  next();
}
