import type {
  HttpAuthService,
  HttpRouterServiceAuthPolicy,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { AuthenticationError } from '@backstage/errors';
import type { RequestHandler } from 'express';
import { createAuthPolicyRegistry } from '../authPolicy';
import type { AuthPolicy } from '../authPolicy';
import { HttpRouterConfigError, describeValue } from '../errors';
import { passThrough } from './passThrough';

const DISABLE_CONFIG_KEY = 'backend.auth.dangerouslyDisableDefaultAuthPolicy';

/**
 * Options for {@link createCredentialsBarrier}.
 *
 * @public
 */
export interface CredentialsBarrierOptions {
  /** Reads and checks the request's credentials. */
  httpAuth: HttpAuthService;
  /** The root config; `backend.auth.dangerouslyDisableDefaultAuthPolicy` is read from it. */
  config: RootConfigService;
  /** The plugin the barrier guards, named in policy errors. Defaults to none. */
  pluginId?: string;
  /** Where the warning about a disabled barrier goes. Defaults to none. */
  logger?: LoggerService;
}

/**
 * What {@link createCredentialsBarrier} returns.
 *
 * @public
 */
export interface CredentialsBarrier {
  /** Lets a request through only with credentials its path's policies accept. */
  middleware: RequestHandler;
  /** Opens a path; throws an `AuthPolicyError` for a policy that cannot be used. */
  addAuthPolicy: (policy: HttpRouterServiceAuthPolicy) => void;
  /** The policies added so far, in order. */
  authPolicies: () => readonly AuthPolicy[];
}

/**
 * Creates the middleware that refuses requests without user or service credentials, and the way to open paths.
 *
 * @remarks
 * Every request needs full user or service credentials; limited-access (cookie) credentials are refused unless a
 * `user-cookie` policy covers the path, and no credentials are needed on a path an `unauthenticated` policy
 * covers (it wins when both cover a path). Policies added later apply to later requests.
 * `backend.auth.dangerouslyDisableDefaultAuthPolicy: true` turns the check off and logs one warning; policies
 * are still validated.
 *
 * @public
 */
export function createCredentialsBarrier(options: CredentialsBarrierOptions): CredentialsBarrier {
  const { httpAuth, config, pluginId, logger } = options;
  const registry = createAuthPolicyRegistry({ pluginId });
  const addAuthPolicy = (policy: HttpRouterServiceAuthPolicy) => registry.add(policy);
  const authPolicies = () => registry.list();

  let disabled: boolean | undefined;
  try {
    // Read as upstream reads it, so that `${ENV_VAR}` substitutions such as 'true' keep working.
    disabled = config.getOptionalBoolean(DISABLE_CONFIG_KEY);
  } catch (error) {
    throw new HttpRouterConfigError(
      DISABLE_CONFIG_KEY,
      `expected true or false, got ${describeValue(config.getOptional(DISABLE_CONFIG_KEY))}`,
      { cause: error },
    );
  }
  if (disabled) {
    logger?.warn(
      `${DISABLE_CONFIG_KEY} is true: requests reach this plugin without any credentials check`,
    );
    return {
      middleware: passThrough,
      addAuthPolicy,
      authPolicies,
    };
  }

  const middleware: RequestHandler = function credentialsBarrier(req, _res, next) {
    const access = registry.lookup(req.path);
    if (access === 'unauthenticated') {
      next();
      return;
    }
    httpAuth
      .credentials(req, {
        allow: ['user', 'service'],
        allowLimitedAccess: access === 'user-cookie',
      })
      // A rejection without a reason must still refuse the request: `next(undefined)` would let it through.
      .then(
        () => next(),
        (error: unknown) => next(error ?? new AuthenticationError('Missing credentials')),
      );
  };

  return { middleware, addAuthPolicy, authPolicies };
}
