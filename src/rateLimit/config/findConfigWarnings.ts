import type { Config } from '@backstage/config';
import { findClosestKey } from '../findClosestKey';
import { TRUST_PROXY_CONFIG_KEY } from './defaults';

/**
 * Warns about each key of `block` that is neither in `known` nor in `alsoAccepted`, with the closest known key.
 *
 * @remarks
 * `alsoAccepted` holds keys that are read but never suggested, such as a deprecated spelling: a typo of the
 * right spelling should be pointed to the right spelling.
 *
 * @param block - The block whose keys are checked.
 * @param fullKey - The full key of `block`, for the messages.
 * @param known - The keys a typo may be near.
 * @param alsoAccepted - Further keys that are not unknown. Defaults to none.
 * @internal
 */
export function findUnknownKeys(
  block: Config,
  fullKey: string,
  known: readonly string[],
  alsoAccepted: readonly string[] = [],
): string[] {
  return block
    .keys()
    .filter(key => !known.includes(key) && !alsoAccepted.includes(key))
    .map(key => {
      const closest = findClosestKey(key, known);
      const hint = closest ? `; did you mean '${fullKey}.${closest}'?` : '';
      return `Unknown config key '${fullKey}.${key}' is ignored${hint}`;
    });
}

/**
 * Warns when `backend.trustProxy` is `true`, which lets any client choose the address it is counted under.
 *
 * @remarks
 * Only worth saying when some limiter is on; the caller decides that.
 *
 * @param config - The root config.
 * @internal
 */
export function findTrustProxyWarnings(config: Config): string[] {
  if (config.getOptional(TRUST_PROXY_CONFIG_KEY) !== true) {
    return [];
  }
  return [
    `'${TRUST_PROXY_CONFIG_KEY}' is true while rate limiting is on: express then takes the client address from ` +
      'the left-most X-Forwarded-For entry, which the client writes itself, so any client can escape its limit ' +
      "or spend another client's. Set it to the number of proxies in front of the backend (for example 1) or " +
      'to their addresses or CIDR ranges (for example ["10.0.0.0/8"]).',
  ];
}
