import type { LifecycleService, LoggerService } from '@backstage/backend-plugin-api';
import type { RateLimitMetrics } from '../metrics';
import { createIpAllowList } from './createIpAllowList';
import { clientAddressKey, createRateLimiter, type RateLimiter } from './createRateLimiter';
import { createLimiterStore } from './createRateLimitStore';
import { getBucketKeyPrefix } from './getBucketKeyPrefix';
import { requestPrincipalKey } from './requestPrincipals';
import type { RateLimitBucket, RateLimitOptions } from './types';

/**
 * The budgets of one layer of per-principal limiting: a plugin's, or the all-plugins one in every plugin router.
 *
 * @remarks
 * A principal kind without a budget of its own (`undefined`) is counted in `anonymous`, per address, as before
 * per-principal budgets existed; `'unlimited'` is never counted.
 *
 * @internal
 */
export interface RateLimitBuckets {
  /** The plugin of the layer; none for the all-plugins layer. */
  pluginId: string | undefined;
  /** Whether the layer's own `ipAllowList` lets an address through uncounted in this layer. */
  isAllowed: (ip: string | undefined) => boolean;
  /** Where the layer counts its `allow_listed` decisions, as its budgets count theirs. Defaults to none. */
  metrics?: RateLimitMetrics;
  /** Requests without verified credentials, per client address (`incomingRequestLimit`). */
  anonymous: RateLimiter;
  /** Requests per user entity ref. */
  user: RateLimiter | 'unlimited' | undefined;
  /** Requests per service subject. */
  service: RateLimiter | 'unlimited' | undefined;
  /** Credentials that failed verification, per client address. */
  failedAuthentication: RateLimiter | undefined;
  /** The limit of `failedAuthentication`, for the check made before verifying. */
  failedAuthenticationLimit: number | undefined;
}

/**
 * Builds one limiter per budget of `options.principals`, each with a store of its own under
 * {@link getBucketKeyPrefix}, so that with Redis every backend instance shares each budget.
 *
 * @param options - The layer's settings; `principals` must be set.
 * @internal
 */
export function createRateLimitBuckets(options: {
  options: RateLimitOptions;
  pluginId?: string;
  logger?: LoggerService;
  lifecycle?: LifecycleService;
  /** Counts each budget's decisions, with the budget as `bucket`. Defaults to none. */
  metrics?: RateLimitMetrics;
}): RateLimitBuckets {
  const { options: limiterOptions, pluginId, logger, lifecycle, metrics } = options;
  const principals = limiterOptions.principals ?? {};
  const build = (kind: RateLimitBucket, limit: number): RateLimiter => {
    const store = createLimiterStore({
      store: limiterOptions.store,
      prefix: getBucketKeyPrefix(pluginId, kind),
      passOnStoreError: limiterOptions.passOnStoreError,
      logger,
      lifecycle,
      metrics,
    });
    const key = kind === 'user' || kind === 'service' ? requestPrincipalKey : clientAddressKey;
    // A failed authentication is answered 401 and must stay counted whatever the skip options say: with
    // skipFailedRequests, each 401 would otherwise take back its own hit and the cut-off would never come.
    const counted =
      kind === 'failed-authentication'
        ? { ...limiterOptions, skipSuccessfulRequests: false, skipFailedRequests: false }
        : limiterOptions;
    return createRateLimiter({
      options: counted,
      pluginId,
      store,
      logger,
      bucket: { kind, limit, key },
      metrics,
    });
  };
  const perPrincipal = (kind: 'user' | 'service') => {
    const limit = principals[kind];
    return limit === undefined || limit === 'unlimited' ? limit : build(kind, limit);
  };
  const failedLimit = principals.failedAuthentication;
  return {
    pluginId,
    isAllowed: createIpAllowList(limiterOptions.ipAllowList),
    metrics,
    anonymous: build('anonymous', limiterOptions.limit),
    user: perPrincipal('user'),
    service: perPrincipal('service'),
    failedAuthentication:
      failedLimit === undefined ? undefined : build('failed-authentication', failedLimit),
    failedAuthenticationLimit: failedLimit,
  };
}
