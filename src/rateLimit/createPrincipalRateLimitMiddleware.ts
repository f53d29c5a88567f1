import type { BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import type { Request, RequestHandler, Response } from 'express';
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

type Layer = PrincipalRateLimitMiddlewareOptions['layers'][number];

/**
 * Error codes of failures on our side while verifying (the signing keys could not be fetched), which say nothing
 * about the token: they are not counted as failed authentications.
 */
const TRANSIENT_ERROR_CODES = new Set([
  'ERR_JWKS_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Options for {@link createPrincipalRateLimitMiddleware}.
 *
 * @internal
 */
export interface PrincipalRateLimitMiddlewareOptions {
  /**
   * The layers, in the order they count: the all-plugins layer (which counts only requests that carry
   * credentials, the others being the root router's), then the plugin's. Each checks its own allow list. No
   * default: at least one.
   */
  layers: ReadonlyArray<{ buckets: RateLimitBuckets; onlyWithCredentials: boolean }>;
  /** The plugin's httpAuth, whose per-request cache the credentials barrier reuses. No default: required. */
  httpAuth: HttpAuthService;
  /** What the plugin's auth policies ask of a path. Defaults to credentials on every path. */
  lookupAccess?: (path: string) => PathAccess;
  /** The name in the proxy header warnings. No default: required. */
  policyName: string;
  /** Receives the proxy header warnings. Defaults to none. */
  logger?: Parameters<typeof createProxyHeaderCheck>[0]['logger'];
}

/**
 * Whether httpAuth's rejection says the credentials are bad, rather than that we could not check them now.
 *
 * @remarks
 * Backstage's token handlers reject a forged token with several errors (`AuthenticationError`, jose's
 * `JWTInvalid` for a payload that is not JSON, and others), so every rejection counts except the few that come
 * from our side: a 503, and network failures while fetching signing keys.
 */
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

/**
 * Counts each request in the budget of its verified principal, and cuts off addresses that keep sending bad
 * credentials before they are verified again.
 *
 * @remarks
 * The credentials are verified by `httpAuth.credentials(req)` with the access mode the barrier will ask for
 * (limited access on `user-cookie` paths), so the barrier's own call is answered from httpAuth's cache for the
 * request, never verified twice. Paths opened with an `unauthenticated` policy, and requests without an
 * `Authorization` header or user cookie, are not verified and count per address. Every rejection of httpAuth
 * counts as a failed authentication, except failures on our side (see {@link isFailedAuthentication}), which
 * count per address and are left for the barrier to answer. Each layer skips the addresses on its own allow
 * list, counted as an `allow_listed` decision of the layer when it would have counted the request. The
 * failed-authentication counts of all layers are read at once; a store that cannot read them refuses the request
 * as the limiters do (503, the `store_error_refuse` decision of that layer's failed-authentication budget). Each
 * budget is a `rateLimit()` of its own ({@link createRateLimitBuckets}); the one that refuses answers 429 itself.
 *
 * @internal
 */
export function createPrincipalRateLimitMiddleware(
  options: PrincipalRateLimitMiddlewareOptions,
): RequestHandler {
  const { layers, httpAuth, lookupAccess = () => undefined, policyName, logger } = options;
  const checkProxyHeaders = createProxyHeaderCheck({ policyName, logger });

  const verify = async (req: Request, access: PathAccess): Promise<Verdict> => {
    let credentials: BackstageCredentials;
    try {
      credentials = await httpAuth.credentials(req, {
        allowLimitedAccess: access === 'user-cookie',
      });
    } catch (error) {
      return isFailedAuthentication(error) ? { kind: 'failed' } : { kind: 'none' };
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

  return function principalRateLimit(req, res, next) {
    const credentialed = carriesCredentials(req);
    const active: Layer[] = [];
    for (const layer of layers) {
      if (!layer.buckets.isAllowed(req.ip)) {
        active.push(layer);
      } else if (credentialed || !layer.onlyWithCredentials) {
        // Counted where this layer's allow list is checked, and only for a request the layer would count.
        layer.buckets.metrics?.recordDecision('allow_listed');
      }
    }
    checkProxyHeaders(req, active.length === 0);
    if (active.length === 0) {
      next();
      return;
    }
    const access = lookupAccess(req.path);
    const choose = async (): Promise<RateLimiter[] | Error> => {
      if (!credentialed || access === 'unauthenticated') {
        return chooseLimiters(active, credentialed, { kind: 'none' });
      }
      const cutOff = await findCutOff(active, req, res);
      if (cutOff) {
        return cutOff instanceof Error ? cutOff : [cutOff];
      }
      const verdict = await verify(req, access);
      if (verdict.kind === 'user' || verdict.kind === 'service') {
        setRequestPrincipal(req, verdict.principal);
      }
      return chooseLimiters(active, credentialed, verdict);
    };
    choose().then(
      chosen => (chosen instanceof Error ? next(chosen) : runInTurn(chosen, req, res, next)),
      next,
    );
  };
}

/**
 * The first layer whose failed-authentication count is spent, checked before verifying; or the refusal when a
 * store could not read a count. The layers are read in parallel, so that a request waits for one read.
 */
async function findCutOff(
  layers: readonly Layer[],
  req: Request,
  res: Response,
): Promise<RateLimiter | Error | undefined> {
  const address = clientAddressKey(req);
  const reads = await Promise.allSettled(
    layers.map(({ buckets }) => buckets.failedAuthentication?.getKey(address)),
  );
  for (const [index, read] of reads.entries()) {
    const { failedAuthentication, failedAuthenticationLimit = Infinity } = layers[index].buckets;
    if (!failedAuthentication) {
      continue;
    }
    if (read.status === 'rejected') {
      return failedAuthentication.refuse(res, read.reason);
    }
    const count = read.value;
    if (count && count.totalHits >= failedAuthenticationLimit && isCurrent(count.resetTime)) {
      return failedAuthentication;
    }
  }
  return undefined;
}

/** The budgets a request counts in, layer by layer. */
function chooseLimiters(
  layers: readonly Layer[],
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
