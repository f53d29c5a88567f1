import type { Config } from '@backstage/config';
import { HttpRouterConfigError, describeValue } from '../errors';
import { DEFAULT_RATE_LIMIT_OPTIONS, RATE_LIMIT_CONFIG_KEY } from './config/defaults';
import { findTrustProxyWarnings } from './config/findConfigWarnings';
import { readLimiterBlocks } from './config/readLimiterBlocks';
import type { RateLimitOptions, RateLimitSettings } from './types';

export {
  DEFAULT_IP_ALLOW_LIST,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_LIMIT_OPTIONS,
  DEFAULT_RATE_LIMIT_WINDOW_MS,
  RATE_LIMIT_CONFIG_KEY,
  TRUST_PROXY_CONFIG_KEY,
} from './config/defaults';

/**
 * Reads `backend.rateLimit` (and `backend.trustProxy`, for a warning) into plain options, one set per limiter.
 *
 * @remarks
 * Pure: it never logs, and problems that should not stop the backend come back in `warnings`, each once. The
 * same config always reads the same, and the result is frozen, so a backend can read it once and hand it to
 * every plugin's limiter.
 *
 * - Absent or `false`: rate limiting is off; no limiter at all.
 * - `true`: the all-plugins limiter with {@link DEFAULT_RATE_LIMIT_OPTIONS}.
 * - An object: the all-plugins limiter with the top-level keys (unless `global: false`), and one limiter per
 *   `plugin.<pluginId>` block, which takes every key it leaves out from the top-level block.
 *
 * Throws {@link HttpRouterConfigError} naming the full key, the value and what is accepted for a value of the
 * wrong type, an unreadable duration, a duration longer than a Node.js timer can wait (`store.timeout`,
 * `store.retryAfter`, and `window` with the memory store; with Redis, a `window` past 2^53-1 ms), a limit that
 * is not a positive whole number, an entry of `ipAllowList` that is not an address or CIDR range, an unknown
 * `store.type`, a Redis store without `connection`, and for both spellings of `skipSuccessfulRequests` in one
 * block. `userRequestLimit` and `serviceRequestLimit` take a positive whole number or `'unlimited'`,
 * `failedAuthenticationLimit` a positive whole number; they appear as `principals` only when one is set, so
 * without them the options are exactly as before. Unknown keys are warnings naming the closest known key.
 *
 * @param config - The root config.
 * @public
 */
export function readRateLimitOptions(config: Config): RateLimitSettings {
  const enabled = readEnabled(config);
  if (enabled === false) {
    return freezeSettings(undefined, {}, []);
  }
  if (enabled === true) {
    return freezeSettings(DEFAULT_RATE_LIMIT_OPTIONS, {}, findTrustProxyWarnings(config));
  }
  const { global, plugins, warnings } = readLimiterBlocks(config.getConfig(RATE_LIMIT_CONFIG_KEY));
  if (global || Object.keys(plugins).length > 0) {
    warnings.push(...findTrustProxyWarnings(config));
  }
  return freezeSettings(global, plugins, warnings);
}

/** `true` or `false` for the boolean forms, `undefined` for an object. */
function readEnabled(config: Config): boolean | undefined {
  const raw = config.getOptional(RATE_LIMIT_CONFIG_KEY);
  if (raw === undefined) {
    return false;
  }
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    return undefined;
  }
  // Boolean strings come from environment substitution, as in `rateLimit: ${RATE_LIMIT}`.
  const asBoolean =
    typeof raw === 'boolean' || typeof raw === 'string' ? parseBoolean(raw) : undefined;
  if (asBoolean === undefined) {
    throw new HttpRouterConfigError(
      RATE_LIMIT_CONFIG_KEY,
      `expected true (rate limiting with defaults) or an object of rate limit settings, got ${describeValue(raw)}`,
    );
  }
  return asBoolean;
}

function parseBoolean(value: boolean | string): boolean | undefined {
  if (typeof value === 'boolean') {
    return value;
  }
  if (value === 'true') {
    return true;
  }
  return value === 'false' ? false : undefined;
}

/** Freezes the settings, so that limiters sharing one result cannot change each other's options. */
function freezeSettings(
  global: Readonly<RateLimitOptions> | undefined,
  plugins: Record<string, RateLimitOptions>,
  warnings: string[],
): RateLimitSettings {
  for (const options of [global, ...Object.values(plugins)]) {
    if (options?.principals) {
      Object.freeze(options.principals);
    }
  }
  for (const options of Object.values(plugins)) {
    Object.freeze(options);
  }
  return Object.freeze({
    global: global && Object.freeze(global),
    plugins: Object.freeze(plugins),
    warnings: Object.freeze(warnings),
  });
}
