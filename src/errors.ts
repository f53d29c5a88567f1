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
} as const;

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

/** Renders a config value for an error message. */
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
