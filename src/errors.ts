import { CustomErrorBase, ServiceUnavailableError } from '@backstage/errors';

/** The stable `code` of each error this package throws, one per error class below. @public */
export const ERROR_CODES = {
  config: 'ERR_HTTP_ROUTER_CONFIG',
  authPolicy: 'ERR_HTTP_ROUTER_AUTH_POLICY',
  redisStoreOption: 'ERR_HTTP_ROUTER_REDIS_STORE_OPTION',
  rateLimitStoreUnavailable: 'ERR_HTTP_ROUTER_RATE_LIMIT_STORE_UNAVAILABLE',
  rootRateLimitNotApplied: 'ERR_HTTP_ROUTER_ROOT_RATE_LIMIT_NOT_APPLIED',
} as const;

/** A value as a config or option error shows it: JSON where it has one, else its string. */
export function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** An unusable config value, named with its full key, the value and what is accepted. @public */
export class HttpRouterConfigError extends Error {
  readonly code = ERROR_CODES.config;
  override name = 'HttpRouterConfigError';
  /** The full config key, for example `backend.rateLimit.window`. */
  readonly key: string;

  constructor(key: string, message: string, options?: { cause?: unknown }) {
    // No `cause` property at all when there is none, so logs show no `[cause]: undefined`.
    super(
      `Invalid config at '${key}': ${message}`,
      options?.cause === undefined ? undefined : options,
    );
    this.key = key;
  }
}

/** An unusable policy given to `addAuthPolicy`, naming the plugin, path and fault. @public */
export class AuthPolicyError extends Error {
  readonly code = ERROR_CODES.authPolicy;
  override name = 'AuthPolicyError';
  readonly pluginId: string | undefined;
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
    const { pluginId, path, message, position, hint } = details;
    const where = pluginId ? ` for plugin '${pluginId}'` : '';
    const at = position === undefined ? '' : ` (at position ${position})`;
    super(
      `Invalid auth policy${where} with path ${JSON.stringify(path)}: ${message}${at}${hint ? `. ${hint}` : ''}`,
    );
    [this.pluginId, this.path, this.position] = [pluginId, path, position];
  }
}

/** The rate-limit store cannot count a request and fails closed: 503, `Retry-After`. @public */
export class RateLimitStoreUnavailableError extends ServiceUnavailableError {
  readonly code = ERROR_CODES.rateLimitStoreUnavailable;
  readonly statusCode = 503;

  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, cause?: unknown) {
    super('Rate limiting is unavailable because its Redis store cannot be reached', cause);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** An unusable Redis rate-limit store option, with the value and what is accepted. @public */
export class RedisStoreOptionError extends Error {
  readonly code = ERROR_CODES.redisStoreOption;
  override name = 'RedisStoreOptionError';
  /** The option at fault, for example `connection`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`Invalid Redis rate-limit store option '${option}': ${message}`);
    this.option = option;
  }
}

/** `applyDefaults()` put no limiter of ours in place: safer to fail than to serve with upstream's, or none. */
export class RootRateLimitNotAppliedError extends Error {
  readonly code = ERROR_CODES.rootRateLimitNotApplied;
  override name = 'RootRateLimitNotAppliedError';

  constructor() {
    super(
      "applyDefaults() of '@backstage/backend-defaults/rootHttpRouter' did not call middleware.rateLimit(), so " +
        "'backend.rateLimit' cannot be applied by backstage-http-router's rootHttpRouterServiceFactory: use a @backstage/backend-defaults of this package's peerDependencies.",
    );
  }
}

/**
 * Passed to `next` when a client used up its window (`@backstage/errors` has no 429); `statusCode` and
 * `retryAfterSeconds` are getters, so that the serialized body stays `{ name, message }`.
 * @public
 */
export class TooManyRequestsError extends CustomErrorBase {
  override name = 'TooManyRequestsError' as const;
  readonly #retryAfterSeconds: number;

  constructor(message: string, options: { retryAfterSeconds: number }) {
    super(message);
    this.#retryAfterSeconds = options.retryAfterSeconds;
  }

  get statusCode(): 429 {
    return 429;
  }

  /** How long, in seconds, the client should wait before it tries again; also sent as `Retry-After`. */
  get retryAfterSeconds(): number {
    return this.#retryAfterSeconds;
  }
}

const alreadyLogged = new WeakSet<object>();

/** Marks a refusal whose cause was logged once for many (an outage): no log line, and no field in the body. */
export function markAsLogged<T extends Error>(error: T): T {
  alreadyLogged.add(error);
  return error;
}

export function isMarkedAsLogged(error: unknown): boolean {
  return typeof error === 'object' && error !== null && alreadyLogged.has(error);
}
