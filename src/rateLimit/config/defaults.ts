import type { RateLimitOptions } from '../types';

/**
 * Where the rate limit settings live in app-config.
 *
 * @internal
 */
export const RATE_LIMIT_CONFIG_KEY = 'backend.rateLimit';

/**
 * Where the express `trust proxy` setting lives in app-config.
 *
 * @internal
 */
export const TRUST_PROXY_CONFIG_KEY = 'backend.trustProxy';

/**
 * The default `window`: one minute, in milliseconds.
 *
 * @remarks
 * Long enough to smooth over the burst of a page load, short enough that a limited client waits little.
 *
 * @internal
 */
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * The default `incomingRequestLimit`: requests per client per window.
 *
 * @remarks
 * A Backstage page load makes a few dozen API calls (entity, relations, permissions, each tab's own plugin); a
 * busy user with several tabs, or a handful of users behind one NAT, stays well under a thousand a minute, while
 * a script flooding the backend passes it within seconds.
 *
 * @internal
 */
export const DEFAULT_RATE_LIMIT = 1000;

/**
 * The default `ipAllowList`: loopback, as upstream, for the backend calling itself and local development.
 *
 * @internal
 */
export const DEFAULT_IP_ALLOW_LIST: readonly string[] = Object.freeze(['127.0.0.1', '::1']);

/**
 * The settings used by `backend.rateLimit: true` and for every key left out.
 *
 * @internal
 */
export const DEFAULT_RATE_LIMIT_OPTIONS: Readonly<RateLimitOptions> = Object.freeze({
  windowMs: DEFAULT_RATE_LIMIT_WINDOW_MS,
  limit: DEFAULT_RATE_LIMIT,
  ipAllowList: DEFAULT_IP_ALLOW_LIST,
  skipSuccessfulRequests: false,
  skipFailedRequests: false,
  passOnStoreError: true,
  store: Object.freeze({ type: 'memory' as const }),
});
