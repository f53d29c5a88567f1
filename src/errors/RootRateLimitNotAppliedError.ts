import { ERROR_CODES } from './codes';

/**
 * Thrown at start-up when Backstage's root router `applyDefaults()` put no limiter of ours in place while
 * `backend.rateLimit` is set.
 *
 * @remarks
 * That happens with a `@backstage/backend-defaults` whose defaults no longer go through `middleware.rateLimit()`;
 * failing is safer than serving with upstream's limiter, or none, in place of the configured one.
 *
 * @internal
 */
export class RootRateLimitNotAppliedError extends Error {
  readonly code = ERROR_CODES.rootRateLimitNotApplied;

  constructor() {
    super(
      "applyDefaults() of '@backstage/backend-defaults/rootHttpRouter' did not call middleware.rateLimit(), " +
        "so backstage-http-router's rootHttpRouterServiceFactory cannot put its limiter in place of " +
        "Backstage's while 'backend.rateLimit' is set. Use a version of @backstage/backend-defaults that " +
        'this package supports (see its peerDependencies).',
    );
    this.name = 'RootRateLimitNotAppliedError';
  }
}
