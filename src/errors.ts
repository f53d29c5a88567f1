import { CustomErrorBase, ServiceUnavailableError } from '@backstage/errors';

/**
 * Stable codes carried by the errors this package throws, so that callers and tests can tell them apart
 * without parsing messages.
 *
 * @public
 */
export const ERROR_CODES = {
  /** A configuration value is missing, of the wrong type or unreadable. */
  config: 'ERR_HTTP_ROUTER_CONFIG',
  /** An auth policy passed to `addAuthPolicy` is invalid. */
  authPolicy: 'ERR_HTTP_ROUTER_AUTH_POLICY',
  /** An option given to `createRedisRateLimitStore` cannot be used. */
  redisStoreOption: 'ERR_HTTP_ROUTER_REDIS_STORE_OPTION',
  /** The rate-limit store could not count a request and fails closed (`passOnStoreError: false`). */
  rateLimitStoreUnavailable: 'ERR_HTTP_ROUTER_RATE_LIMIT_STORE_UNAVAILABLE',
  /**
   * Backstage's root router `applyDefaults()` did not put this package's all-plugins limiter in place while
   * `backend.rateLimit` is set.
   */
  rootRateLimitNotApplied: 'ERR_HTTP_ROUTER_ROOT_RATE_LIMIT_NOT_APPLIED',
} as const;

/**
 * Renders a config value for an error message.
 *
 * @internal
 */
export function describeValue(value: unknown): string {
  if (value === undefined) {
    return 'undefined';
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Thrown at start-up when a configuration value cannot be used.
 *
 * @remarks
 * The message names the full config key, the value that was read and what is accepted.
 *
 * @public
 */
export class HttpRouterConfigError extends Error {
  readonly code = ERROR_CODES.config;
  /** The full config key, for example `backend.rateLimit.window`. */
  readonly key: string;

  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(`Invalid config at '${key}': ${message}`, options);
    this.name = 'HttpRouterConfigError';
    this.key = key;
  }
}

/**
 * Thrown by `addAuthPolicy` when a policy cannot be used.
 *
 * @remarks
 * The message names the plugin, the policy path and what is wrong with it.
 *
 * @public
 */
export class AuthPolicyError extends Error {
  readonly code = ERROR_CODES.authPolicy;
  /** The plugin the policy was added for, when known. */
  readonly pluginId: string | undefined;
  /** The policy path as the author wrote it. */
  readonly path: unknown;
  /** Zero-based index in the path of the problem, when the path could not be read. */
  readonly position: number | undefined;

  constructor(details: {
    pluginId?: string;
    path: unknown;
    message: string;
    position?: number;
    hint?: string;
  }) {
    const where = details.pluginId ? ` for plugin '${details.pluginId}'` : '';
    const at = details.position === undefined ? '' : ` (at position ${details.position})`;
    const hint = details.hint ? `. ${details.hint}` : '';
    super(
      `Invalid auth policy${where} with path ${JSON.stringify(details.path)}: ${details.message}${at}${hint}`,
    );
    this.name = 'AuthPolicyError';
    this.pluginId = details.pluginId;
    this.path = details.path;
    this.position = details.position;
  }
}

/**
 * A policy path that cannot be read, with where the problem is.
 *
 * @remarks
 * Thrown by `compilePolicyPath`; its caller wraps it in an error that names the plugin or config key (the policy
 * registry in an `AuthPolicyError`).
 *
 * @internal
 */
export class PolicyPathSyntaxError extends Error {
  /** Zero-based index in the path of the character that could not be read. */
  readonly position: number;

  constructor(message: string, position: number) {
    super(message);
    this.name = 'PolicyPathSyntaxError';
    this.position = position;
  }
}

/**
 * The rate-limit store could not count a request and fails closed, so the request must not go through.
 *
 * @remarks
 * Its name is `ServiceUnavailableError` and its `statusCode` 503, so the plugin error handler answers 503.
 * `retryAfterSeconds` is what the `Retry-After` header should say.
 *
 * @public
 */
export class RateLimitStoreUnavailableError extends ServiceUnavailableError {
  readonly code = ERROR_CODES.rateLimitStoreUnavailable;
  readonly statusCode = 503;
  /** How long a client should wait before trying again, in whole seconds. */
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, cause?: unknown) {
    super('Rate limiting is unavailable because its Redis store cannot be reached', cause);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * An option given to the Redis rate-limit store cannot be used.
 *
 * @remarks
 * The message names the option, the value received and what is accepted. A bad `timeoutMs` is thrown at
 * construction; a bad `connection` is logged at start-up instead, because the backend must keep serving.
 *
 * @public
 */
export class RedisStoreOptionError extends Error {
  readonly code = ERROR_CODES.redisStoreOption;
  /** The option at fault, for example `connection`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`Invalid Redis rate-limit store option '${option}': ${message}`);
    this.name = 'RedisStoreOptionError';
    this.option = option;
  }
}

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

/**
 * Passed to `next` by the rate limiter when a client has used up its requests for the current window.
 *
 * @remarks
 * `@backstage/errors` has no 429 error, so this one carries its status in `statusCode`, which both this
 * package's error handler and the one of Backstage's root router answer with. `statusCode` and
 * `retryAfterSeconds` are getters so that they stay out of the serialized error body, which is
 * `{ name: 'TooManyRequestsError', message }` as for any other Backstage error.
 *
 * @public
 */
export class TooManyRequestsError extends CustomErrorBase {
  override name = 'TooManyRequestsError' as const;
  readonly #retryAfterSeconds: number;

  constructor(message: string, options: { retryAfterSeconds: number }) {
    super(message);
    this.#retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The HTTP status for this error: always 429. */
  get statusCode(): 429 {
    return 429;
  }

  /** How long, in seconds, the client should wait before it tries again; also sent as `Retry-After`. */
  get retryAfterSeconds(): number {
    return this.#retryAfterSeconds;
  }
}

/** Errors whose cause was already reported in the log, once for many requests. */
const alreadyLogged = new WeakSet<object>();

/**
 * Marks an error as already reported, so that the error handler answers it without a log line of its own.
 *
 * @remarks
 * For refusals that come in floods from one known cause (a Redis outage while the store fails closed, a
 * shutdown): the cause is logged once when it starts, and a line for every refused request would bury it. A
 * `WeakSet` rather than a property on the error, so that the mark never shows in the serialized response body.
 *
 * @param error - The error to mark.
 * @returns The same error.
 * @internal
 */
export function markAsLogged<T extends Error>(error: T): T {
  alreadyLogged.add(error);
  return error;
}

/**
 * Whether {@link markAsLogged} marked this error.
 *
 * @internal
 */
export function isMarkedAsLogged(error: unknown): boolean {
  return typeof error === 'object' && error !== null && alreadyLogged.has(error);
}
