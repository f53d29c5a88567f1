import type { BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import type { Request, RequestHandler } from 'express';
import type { RateLimitMetrics } from '../metrics';
import { createIpAllowList } from './createIpAllowList';
import { createProxyHeaderCheck } from './createProxyHeaderCheck';
import type { RateLimitBuckets } from './createRateLimitBuckets';
import { clientAddressKey, type RateLimiter } from './createRateLimiter';
import { carriesCredentials } from './carriesCredentials';
import { setRequestPrincipal } from './requestPrincipals';

/** What a request's credentials turned out to be, for choosing its budgets. */
type Verdict =
  { kind: 'none' } | { kind: 'failed' } | { kind: 'user' | 'service'; principal: string };

/** What an auth policy asks of a path: none (credentials required), `user-cookie` or `unauthenticated`. */
export type PathAccess = 'unauthenticated' | 'user-cookie' | undefined;

/**
 * Options for {@link createPrincipalRateLimitMiddleware}.
 *
 * @internal
 */
export interface PrincipalRateLimitMiddlewareOptions {
  /**
   * The layers, in the order they count: the all-plugins layer (which counts only requests that carry
   * credentials, the others being the root router's), then the plugin's. No default: at least one.
   */
  layers: ReadonlyArray<{ buckets: RateLimitBuckets; onlyWithCredentials: boolean }>;
  /** The plugin's httpAuth, whose per-request cache the credentials barrier reuses. No default: required. */
  httpAuth: HttpAuthService;
  /** What the plugin's auth policies ask of a path. Defaults to credentials on every path. */
  lookupAccess?: (path: string) => PathAccess;
  /** Addresses never limited; the first layer's. No default: required. */
  ipAllowList: readonly string[];
  /** The name in the proxy header warnings. No default: required. */
  policyName: string;
  /** Receives the proxy header warnings. Defaults to none. */
  logger?: Parameters<typeof createProxyHeaderCheck>[0]['logger'];
  /**
   * Counts the decisions taken before any budget runs: `allow_listed`, and `store_error_refuse` with the
   * `failed-authentication` bucket when its count could not be read. Each budget counts its own. Defaults to none.
   */
  metrics?: RateLimitMetrics;
}

/**
 * Counts each request in the budget of its verified principal, and cuts off addresses that keep sending bad
 * credentials before they are verified again.
 *
 * @remarks
 * The credentials are verified by `httpAuth.credentials(req)` with the access mode the barrier will ask for
 * (limited access on `user-cookie` paths), so the barrier's own call is answered from httpAuth's cache for the
 * request, never verified twice. Paths opened with an `unauthenticated` policy, and requests without an
 * `Authorization` header or user cookie, are not verified and count per address. Only an `AuthenticationError`
 * counts as a failed authentication; any other failure of httpAuth counts per address and is left for the barrier
 * to answer. Each budget is a `rateLimit()` of its own ({@link createRateLimitBuckets}); the one that refuses
 * answers 429 itself.
 *
 * @internal
 */
export function createPrincipalRateLimitMiddleware(
  options: PrincipalRateLimitMiddlewareOptions,
): RequestHandler {
  const { layers, httpAuth, lookupAccess = () => undefined, policyName, logger, metrics } = options;
  const isAllowed = createIpAllowList(options.ipAllowList);
  const checkProxyHeaders = createProxyHeaderCheck({ policyName, logger });

  const verify = async (req: Request, access: PathAccess): Promise<Verdict> => {
    let credentials: BackstageCredentials;
    try {
      credentials = await httpAuth.credentials(req, {
        allowLimitedAccess: access === 'user-cookie',
      });
    } catch (error) {
      return (error as Error | undefined)?.name === 'AuthenticationError'
        ? { kind: 'failed' }
        : { kind: 'none' };
    }
    const { principal } = credentials as BackstageCredentials<{ type?: string }>;
    if (principal.type === 'user') {
      return { kind: 'user', principal: (principal as { userEntityRef: string }).userEntityRef };
    }
    if (principal.type === 'service') {
      return { kind: 'service', principal: (principal as { subject: string }).subject };
    }
    return { kind: 'none' };
  };

  /** The first layer whose failed-authentication count is spent, checked before verifying. */
  const findCutOff = async (req: Request): Promise<RateLimiter | undefined> => {
    const address = clientAddressKey(req);
    for (const { buckets } of layers) {
      const { failedAuthentication, failedAuthenticationLimit = Infinity } = buckets;
      const count = failedAuthentication && (await failedAuthentication.getKey(address));
      if (count && count.totalHits >= failedAuthenticationLimit && isCurrent(count.resetTime)) {
        return failedAuthentication;
      }
    }
    return undefined;
  };

  return function principalRateLimit(req, res, next) {
    const allowed = isAllowed(req.ip);
    checkProxyHeaders(req, allowed);
    if (allowed) {
      metrics?.recordDecision('allow_listed');
      next();
      return;
    }
    const credentialed = carriesCredentials(req);
    const access = lookupAccess(req.path);
    const choose = async (): Promise<RateLimiter[]> => {
      if (!credentialed || access === 'unauthenticated') {
        return chooseLimiters(layers, credentialed, { kind: 'none' });
      }
      const cutOff = await findCutOff(req);
      if (cutOff) {
        return [cutOff];
      }
      const verdict = await verify(req, access);
      if (verdict.kind === 'user' || verdict.kind === 'service') {
        setRequestPrincipal(req, verdict.principal);
      }
      return chooseLimiters(layers, credentialed, verdict);
    };
    // Only reading the failed-authentication count can reject (verifying never does): the store failed.
    choose().then(
      limiters => runInTurn(limiters, req, res, next),
      (error: unknown) => {
        metrics?.recordDecision('store_error_refuse', 'failed-authentication');
        next(error);
      },
    );
  };
}

/** The budgets a request counts in, layer by layer. */
function chooseLimiters(
  layers: PrincipalRateLimitMiddlewareOptions['layers'],
  credentialed: boolean,
  verdict: Verdict,
): RateLimiter[] {
  const limiters: RateLimiter[] = [];
  for (const { buckets, onlyWithCredentials } of layers) {
    if (onlyWithCredentials && !credentialed) {
      continue;
    }
    if (verdict.kind === 'failed' && buckets.failedAuthentication) {
      limiters.push(buckets.failedAuthentication);
    }
    const own =
      verdict.kind === 'user' || verdict.kind === 'service' ? buckets[verdict.kind] : undefined;
    if (own === undefined) {
      limiters.push(buckets.anonymous);
    } else if (own !== 'unlimited') {
      limiters.push(own);
    }
  }
  return limiters;
}

/** Runs the limiters one after the other; one that answers 429 never calls on, which ends the request there. */
function runInTurn(limiters: RateLimiter[], ...[req, res, next]: Parameters<RequestHandler>): void {
  const run = (index: number): void => {
    if (index === limiters.length) {
      next();
      return;
    }
    limiters[index](req, res, (error?: unknown) => {
      if (error === undefined) {
        run(index + 1);
      } else {
        next(error);
      }
    });
  };
  run(0);
}

/** Whether a count's window is still open; a store that keeps no reset time is taken at its word. */
function isCurrent(resetTime: Date | undefined): boolean {
  return resetTime === undefined || resetTime.getTime() > Date.now();
}
