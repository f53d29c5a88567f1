import type {
  HttpAuthService,
  HttpRouterServiceAuthPolicy,
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { AuthenticationError } from '@backstage/errors';
import type { Request, RequestHandler } from 'express';
import { createAuthPolicyRegistry } from '../authPolicy';
import type { AuthPolicy, AuthPolicyAccess } from '../authPolicy';
import { HttpRouterConfigError, describeValue } from '../errors';
import type { CredentialsBarrierMetrics, CredentialsRefusalReason } from '../metrics';
import { passThrough } from './passThrough';

/** The cookie Backstage's `httpAuth.issueUserCookie` sets, holding a limited-access user token. */
const AUTH_COOKIE = 'backstage-auth';

function hasAuthCookie(cookieHeader: string | undefined): boolean {
  if (!cookieHeader) {
    return false;
  }
  return cookieHeader.split(';').some(pair => {
    const name = pair.slice(0, pair.indexOf('=')).trim();
    return name === AUTH_COOKIE;
  });
}

/**
 * Tells why the credentials barrier refused a request, from what the request carried.
 *
 * @remarks
 * Read from the request rather than from the error's message, which `httpAuth` does not promise to keep:
 * an `Authorization` header that was refused is `invalid`; otherwise Backstage's auth cookie on a path without a
 * `user-cookie` policy is `limited_access` (the cookie alone never passes there), and a refused cookie where it is
 * allowed is `invalid`; nothing at all is `missing`. A limited-access token sent as a bearer token counts as
 * `invalid`. Only called for refused requests, so its cost does not matter.
 *
 * @param req - The refused request.
 * @param cookieAllowed - Whether a `user-cookie` policy covers the request's path.
 * @internal
 */
export function credentialsRefusalReason(
  req: Pick<Request, 'headers'>,
  cookieAllowed: boolean,
): CredentialsRefusalReason {
  if (req.headers.authorization !== undefined) {
    return 'invalid';
  }
  if (hasAuthCookie(req.headers.cookie)) {
    return cookieAllowed ? 'invalid' : 'limited_access';
  }
  return 'missing';
}

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
  /** Where the warning about a disabled barrier and the list of opened paths go. Defaults to none. */
  logger?: LoggerService;
  /**
   * The plugin's lifecycle: with a `logger`, the opened paths are logged once the plugin has started, and each
   * policy added after that as it is added. Defaults to none (nothing is logged about policies).
   */
  lifecycle?: LifecycleService;
  /**
   * Counts refused requests by reason, and requests let through by an `unauthenticated` or `user-cookie`
   * policy; from {@link createHttpRouterMetrics}. Defaults to none: nothing is recorded.
   */
  metrics?: CredentialsBarrierMetrics;
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
  /**
   * What the policies ask of a request path (`req.path`), as the middleware reads it: `undefined` when
   * credentials are required.
   */
  lookupAccess: (path: string) => AuthPolicyAccess | undefined;
}

const describePolicies = (policies: readonly AuthPolicy[]) =>
  policies.length ? policies.map(({ path, allow }) => `${path} (${allow})`).join(', ') : 'none';

/**
 * Creates the middleware that refuses requests without user or service credentials, and the way to open paths.
 *
 * @remarks
 * Every request needs full user or service credentials; limited-access (cookie) credentials are refused unless a
 * `user-cookie` policy covers the path, and no credentials are needed on a path an `unauthenticated` policy
 * covers (it wins when both cover a path). A path with dot segments or encoded slashes (`/static/../secret`)
 * is opened only as far as the path it resolves to is opened too, so that a
 * static file handler cannot serve files outside an opened prefix. Policies added later apply to later requests.
 * `backend.auth.dangerouslyDisableDefaultAuthPolicy: true` turns the check off and logs one warning; policies
 * are still validated. With a `lifecycle` and a `logger`, one info line lists the opened paths once the plugin
 * has started, and each policy added after that gets a line of its own, so that no path opens silently.
 * With `metrics`, each refusal is counted by reason (see {@link credentialsRefusalReason}) and each request let
 * through on a path an `unauthenticated` or `user-cookie` policy covers by that policy; with the check turned
 * off, nothing is counted.
 *
 * @public
 */
export function createCredentialsBarrier(options: CredentialsBarrierOptions): CredentialsBarrier {
  const { httpAuth, config, pluginId, logger, lifecycle, metrics } = options;
  const registry = createAuthPolicyRegistry({ pluginId });
  const authPolicies = () => registry.list();
  const lookupAccess = registry.lookup;
  let started = false;
  const addAuthPolicy = (policy: HttpRouterServiceAuthPolicy) => {
    registry.add(policy);
    if (started) {
      const added = authPolicies().slice(-1);
      logger?.info(
        `Auth policy added to plugin '${pluginId}' after start-up: ${describePolicies(added)}`,
      );
    }
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
      lookupAccess,
    };
  }

  const middleware: RequestHandler = function credentialsBarrier(req, _res, next) {
    const access = lookupAccess(req.path);
    if (access === 'unauthenticated') {
      metrics?.recordPolicyAllowed('unauthenticated');
      next();
      return;
    }
    const cookieAllowed = access === 'user-cookie';
    httpAuth
      .credentials(req, { allow: ['user', 'service'], allowLimitedAccess: cookieAllowed })
      // A rejection without a reason must still refuse the request: `next(undefined)` would let it through.
      .then(
        () => {
          // httpAuth does not say whether the cookie or a token passed, so every request on the path counts.
          if (cookieAllowed) {
            metrics?.recordPolicyAllowed('user-cookie');
          }
          next();
        },
        (error: unknown) => {
          metrics?.recordRefusal(credentialsRefusalReason(req, cookieAllowed));
          next(error ?? new AuthenticationError('Missing credentials'));
        },
      );
  };

  return { middleware, addAuthPolicy, authPolicies, lookupAccess };
}
