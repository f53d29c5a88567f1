import type {
  HttpAuthService,
  HttpRouterServiceAuthPolicy,
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { AuthenticationError } from '@backstage/errors';
import type { Request, RequestHandler } from 'express';
import {
  createAuthPolicyRegistry,
  type AuthPolicy,
  type AuthPolicyAccess,
} from '../authPolicy/registry';
import { HttpRouterConfigError, describeValue } from '../errors';
import type { CredentialsBarrierMetrics } from '../metrics';
import { AUTH_COOKIE } from '../rateLimit/limiter';
import { passThrough } from './passThrough';

export const DISABLE_CONFIG_KEY = 'backend.auth.dangerouslyDisableDefaultAuthPolicy';

/**
 * Why the barrier refused a request, read from what it carried (`httpAuth` keeps no promise on its messages): the
 * auth cookie alone where no `user-cookie` policy covers the path is `limited_access`.
 */
export function credentialsRefusalReason(req: Pick<Request, 'headers'>, cookieAllowed: boolean) {
  if (req.headers.authorization !== undefined) return 'invalid';
  if (!AUTH_COOKIE.test(req.headers.cookie ?? '')) return 'missing';
  return cookieAllowed ? 'invalid' : 'limited_access';
}

/** Options for {@link createCredentialsBarrier}. @public */
export interface CredentialsBarrierOptions {
  httpAuth: HttpAuthService;
  /** The root config; `backend.auth.dangerouslyDisableDefaultAuthPolicy` is read from it. */
  config: RootConfigService;
  /** The plugin the barrier guards, named in policy errors. Defaults to none. */
  pluginId?: string;
  /** Gets the warning about a disabled barrier and the opened paths. Defaults to none. */
  logger?: LoggerService;
  /** With a `logger`, the opened paths are logged at start-up and each later policy as added. Defaults to none. */
  lifecycle?: LifecycleService;
  /** Counts refusals by reason and requests a policy let through. Defaults to none. */
  metrics?: CredentialsBarrierMetrics;
}

/** What {@link createCredentialsBarrier} returns. @public */
export interface CredentialsBarrier {
  /** Lets a request through only with credentials its path's policies accept. */
  middleware: RequestHandler;
  /** Opens a path; throws an `AuthPolicyError` for a policy that cannot be used. */
  addAuthPolicy: (policy: HttpRouterServiceAuthPolicy) => void;
  authPolicies: () => readonly AuthPolicy[];
  /** What the policies ask of a request path (`req.path`): `undefined` when credentials are required. */
  lookupAccess: (path: string) => AuthPolicyAccess | undefined;
}

const describePolicies = (policies: readonly AuthPolicy[]) =>
  policies.map(({ path, allow }) => `${path} (${allow})`).join(', ') || 'none';

/**
 * Creates the middleware that refuses requests without user or service credentials, and the way to open paths.
 * @remarks
 * `unauthenticated` wins when both policies cover a path; a path with dot segments or encoded slashes is opened
 * only as far as the path it resolves to is; each opened path is logged.
 * @public
 */
export function createCredentialsBarrier(options: CredentialsBarrierOptions): CredentialsBarrier {
  const { httpAuth, config, pluginId, logger, lifecycle, metrics } = options;
  const registry = createAuthPolicyRegistry({ pluginId });
  const { list: authPolicies, lookup: lookupAccess } = registry;
  let started = false;
  const addAuthPolicy = (policy: HttpRouterServiceAuthPolicy) => {
    registry.add(policy);
    const added = `Auth policy added to plugin '${pluginId}' after start-up`;
    if (started) logger?.info(`${added}: ${describePolicies(authPolicies().slice(-1))}`);
  };
  if (lifecycle && logger) {
    lifecycle.addStartupHook(() => {
      logger.info(`Auth policies for plugin '${pluginId}': ${describePolicies(authPolicies())}`);
      started = true;
    });
  }

  let disabled: boolean | undefined;
  try {
    // Read as upstream reads it, so that `${ENV_VAR}` substitutions such as 'true' keep working.
    disabled = config.getOptionalBoolean(DISABLE_CONFIG_KEY);
  } catch (cause) {
    const expected = `expected true or false, got ${describeValue(config.getOptional(DISABLE_CONFIG_KEY))}`;
    throw new HttpRouterConfigError(DISABLE_CONFIG_KEY, expected, { cause });
  }
  if (disabled) {
    logger?.warn(
      `${DISABLE_CONFIG_KEY} is true: requests reach this plugin without any credentials check`,
    );
    return { middleware: passThrough, addAuthPolicy, authPolicies, lookupAccess };
  }

  const middleware: RequestHandler = function credentialsBarrier(req, _res, next) {
    const access = lookupAccess(req.path);
    if (access === 'unauthenticated') {
      metrics?.recordPolicyAllowed(access);
      return next();
    }
    const allowLimitedAccess = access === 'user-cookie';
    httpAuth.credentials(req, { allow: ['user', 'service'], allowLimitedAccess }).then(
      () => {
        // httpAuth does not say whether the cookie or a token passed, so every request on the path counts.
        if (allowLimitedAccess) metrics?.recordPolicyAllowed('user-cookie');
        next();
      },
      (error: unknown) => {
        metrics?.recordRefusal(credentialsRefusalReason(req, allowLimitedAccess));
        // A rejection with a falsy reason must still refuse: `next()` of it would let the request through.
        next(error || new AuthenticationError('Missing credentials'));
      },
    );
  };
  return { middleware, addAuthPolicy, authPolicies, lookupAccess };
}
