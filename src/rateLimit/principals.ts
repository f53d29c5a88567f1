import type {
  BackstageCredentials,
  HttpAuthService,
  LifecycleService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import type { Request, RequestHandler, Response } from 'express';
import type { Store } from 'express-rate-limit';
import { createHash } from 'node:crypto';
import type { RateLimitMetrics } from '../metrics';
import type { RedisConnections } from '../redis/connection';
import {
  AUTH_COOKIE,
  carriesCredentials,
  clientAddressKey,
  createIpAllowList,
  credentialsReaderOf,
  createLimiter,
  createProxyHeaderCheck,
  type Limiter,
} from './limiter';
import { createRateLimitStore, rateLimitKeyPrefix } from './store';
import type { RateLimitBucket, RateLimitOptions } from './types';

/** What an auth policy asks of a path: nothing (credentials required), `user-cookie` or `unauthenticated`. */
export type PathAccess = 'unauthenticated' | 'user-cookie' | undefined;

/** The verified principal a request counts under, kept in `res.locals` for the budget's key generator. */
const PRINCIPAL = Symbol('rate-limit principal');
/** The digest of the credentials a request presents, kept in `res.locals` for the failed-authentication key. */
const CREDENTIAL_DIGEST = Symbol('rate-limit credential digest');
/** The most digests of recently verified credentials kept per plugin router; the oldest go first. */
const MAX_VERIFIED_DIGESTS = 10_000;

/**
 * Failures on our side while verifying (signing keys could not be fetched) say nothing about the token: they are
 * not counted as failed authentications.
 */
const TRANSIENT_ERROR_CODES = new Set([
  'ERR_JWKS_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

type Verdict = { kind: 'none' | 'failed' } | { kind: 'user' | 'service'; principal: string };

/**
 * The budgets of one layer: a plugin's, or the all-plugins one that every plugin router counts in. A principal
 * kind without a budget of its own counts in `address`, as requests without verified credentials do;
 * `'unlimited'` is never counted.
 */
export interface Budgets {
  /** None when the allow list is empty. */
  isAllowed: ((ip: string | undefined) => boolean) | undefined;
  /** Where the layer's `allow_listed` decisions go. */
  metrics?: RateLimitMetrics;
  address: Limiter;
  user: Limiter | 'unlimited' | undefined;
  service: Limiter | 'unlimited' | undefined;
  failedAuthentication: { limiter: Limiter; limit: number } | undefined;
}

/** Builds one limiter per budget of `options.principals`, each with its own store under its own key prefix. */
export function createBudgets(budgetOptions: {
  options: RateLimitOptions;
  pluginId?: string;
  /** The plugin's route rule whose budgets these are. Defaults to none: the plugin's own. */
  route?: string;
  connections: RedisConnections;
  logger?: LoggerService;
  lifecycle?: LifecycleService;
  metrics?: RateLimitMetrics;
  digestKey?: (key: string) => Promise<string>;
  stores?: Map<string, Store>;
}): Budgets {
  const { options, pluginId, route, connections, logger, lifecycle, metrics, digestKey, stores } =
    budgetOptions;
  const principals = options.principals ?? {};
  const build = (kind: RateLimitBucket, limit: number): Limiter => {
    const store = createRateLimitStore({
      options,
      prefix: rateLimitKeyPrefix(pluginId, kind, route),
      connections,
      lifecycle,
      metrics,
      stores,
    });
    const perPrincipal = kind === 'user' || kind === 'service';
    // Failed authentications are answered 401 and stay counted whatever the skip options say, or the cut-off
    // would never come with skipFailedRequests.
    const counted =
      kind === 'failed-authentication'
        ? { ...options, skipSuccessfulRequests: false, skipFailedRequests: false }
        : options;
    return createLimiter({
      options: counted,
      pluginId,
      route,
      store,
      logger,
      metrics,
      digestKey,
      bucket: {
        kind,
        limit,
        key: perPrincipal
          ? (_req, res) =>
              (res.locals[PRINCIPAL as never] as string | undefined) ?? 'unknown-principal'
          : kind === 'failed-authentication'
            ? (req, res) => `${clientAddressKey(req)}:${res.locals[CREDENTIAL_DIGEST as never]}`
            : clientAddressKey,
      },
    });
  };
  const perPrincipal = (kind: 'user' | 'service') => {
    const limit = principals[kind];
    return limit === undefined || limit === 'unlimited' ? limit : build(kind, limit);
  };
  const failedLimit = principals.failedAuthentication;
  return {
    isAllowed: createIpAllowList(options.ipAllowList),
    metrics,
    address: build('address', options.limit),
    user: perPrincipal('user'),
    service: perPrincipal('service'),
    failedAuthentication:
      failedLimit === undefined
        ? undefined
        : { limiter: build('failed-authentication', failedLimit), limit: failedLimit },
  };
}

/** One layer of a plugin router's per-principal counting. */
export interface PrincipalLayer {
  budgets: Budgets;
  /** The all-plugins layer counts only requests with credentials the root router left to it. */
  counts: (req: Request, res: Response) => boolean;
}

/**
 * Counts each request in the budget of its verified principal, and refuses credentials that keep failing, and
 * addresses over their budget, before verifying them again.
 *
 * @remarks
 * Credentials are verified with the access mode the credentials barrier will ask for, so that httpAuth's cache
 * answers the barrier. Paths opened `unauthenticated` and requests without credentials count per address. Every
 * rejection of httpAuth is a failed authentication, counted per address and per address and credential digest;
 * failures on our side count per address. Before verifying, the counts of all layers are read at once: the same
 * bad credentials past the failed-authentication limit, or an address over its budget with credentials that did
 * not verify lately here, get the 429 of that budget. Then each budget counts in turn, and the one that refuses
 * answers 429 itself.
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
    let credentials: BackstageCredentials;
    try {
      const reader = credentialsReaderOf(res);
      credentials = await (reader
        ? reader.verify()
        : httpAuth.credentials(req, { allowLimitedAccess: access === 'user-cookie' }));
    } catch (error) {
      return { kind: isFailedAuthentication(error) ? 'failed' : 'none' };
    }
    const principal = credentials.principal as {
      type?: string;
      userEntityRef?: string;
      subject?: string;
    };
    if (principal.type === 'user') return { kind: 'user', principal: principal.userEntityRef! };
    if (principal.type === 'service') return { kind: 'service', principal: principal.subject! };
    return { kind: 'none' };
  };

  const choose = async (req: Request, res: Response, active: PrincipalLayer[]) => {
    // HTTP auth policies do not apply to a request with a reader of its own (a WebSocket upgrade).
    const access = credentialsReaderOf(res) ? undefined : lookupAccess(req.path);
    if (!carriesCredentials(req, res) || access === 'unauthenticated') {
      return chooseLimiters(active, { kind: 'none' });
    }
    const digest = credentialDigest(req);
    res.locals[CREDENTIAL_DIGEST as never] = digest as never;
    const verifiedLately = (verifiedUntil.get(digest) ?? 0) > Date.now();
    const cutOff = await findCutOff(active, req, res, verifiedLately);
    if (cutOff) {
      return cutOff;
    }
    const verdict = await verify(req, res, access);
    if (verdict.kind === 'user' || verdict.kind === 'service') {
      res.locals[PRINCIPAL as never] = verdict.principal as never;
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
      if (layer.budgets.isAllowed?.(req.ip)) {
        layer.budgets.metrics?.recordDecision('allow_listed');
      } else {
        active.push(layer);
      }
    }
    checkProxyHeaders(req, active.length === 0);
    if (active.length === 0) {
      next();
      return;
    }
    choose(req, res, active).then(
      chosen => (chosen instanceof Error ? next(chosen) : runInTurn(chosen, req, res, next)),
      next,
    );
  };
}

function isFailedAuthentication(error: unknown): boolean {
  const { name, code, cause } = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    cause?: unknown;
  };
  const causeCode = (cause as { code?: unknown } | null | undefined)?.code;
  return !(
    name === 'ServiceUnavailableError' ||
    TRANSIENT_ERROR_CODES.has(String(code)) ||
    TRANSIENT_ERROR_CODES.has(String(causeCode))
  );
}

/** A digest of the credentials a request presents, so that no key holds them. */
function credentialDigest(req: Request): string {
  const { authorization, cookie } = req.headers;
  const presented = [
    req.headers['sec-websocket-protocol'],
    authorization,
    cookie && AUTH_COOKIE.exec(cookie)?.[1],
  ];
  return createHash('sha256').update(presented.join('\n')).digest('base64url').slice(0, 22);
}

/**
 * The spent budget that refuses the request before verifying, as the one limiter to run: the failed-authentication
 * budget of these credentials, or, unless they verified lately, the address budget; or the refusal of a failed read.
 */
async function findCutOff(
  layers: readonly PrincipalLayer[],
  req: Request,
  res: Response,
  verifiedLately: boolean,
): Promise<Limiter[] | Error | undefined> {
  const checks = layers.flatMap(({ budgets }) => [
    ...(budgets.failedAuthentication ? [budgets.failedAuthentication.limiter] : []),
    ...(verifiedLately ? [] : [budgets.address]),
  ]);
  const reads = await Promise.allSettled(checks.map(limiter => limiter.countOf(req, res)));
  for (const [index, read] of reads.entries()) {
    const limiter = checks[index];
    if (read.status === 'rejected') {
      return limiter.refuse(res, read.reason);
    }
    const count = read.value;
    const current = count?.resetTime === undefined || count.resetTime.getTime() > Date.now();
    // A dry run verifies and counts as usual; the limiter records what it would have refused.
    if (count && count.totalHits >= limiter.limit && current && !limiter.dryRun) {
      return [limiter];
    }
  }
  return undefined;
}

function chooseLimiters(layers: readonly PrincipalLayer[], verdict: Verdict): RequestHandler[] {
  const limiters: RequestHandler[] = [];
  const failed: Limiter[] = [];
  for (const { budgets } of layers) {
    const own =
      verdict.kind === 'user' || verdict.kind === 'service' ? budgets[verdict.kind] : undefined;
    if (own === undefined) {
      limiters.push(budgets.address);
    } else if (own !== 'unlimited') {
      limiters.push(own);
    }
    if (verdict.kind === 'failed' && budgets.failedAuthentication) {
      failed.push(budgets.failedAuthentication.limiter);
    }
  }
  // Last, after the address budgets' headers are taken off: a 401 tells of the budget that cuts it off.
  if (failed.length > 0) {
    limiters.push(clearRateLimitHeaders, ...failed);
  }
  return limiters;
}

const RATE_LIMIT_HEADERS = [
  'RateLimit',
  'RateLimit-Policy',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
];

function clearRateLimitHeaders(_req: Request, res: Response, next: () => void): void {
  RATE_LIMIT_HEADERS.forEach(header => res.removeHeader(header));
  next();
}

/** Runs the limiters one after the other; one that answers 429 never calls on, which ends the request there. */
function runInTurn(
  limiters: RequestHandler[],
  ...[req, res, next]: Parameters<RequestHandler>
): void {
  const run = (index: number): void => {
    if (index === limiters.length) {
      next();
      return;
    }
    limiters[index](req, res, (error?: unknown) =>
      error === undefined ? run(index + 1) : next(error),
    );
  };
  run(0);
}
