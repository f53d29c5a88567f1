import type { Config } from '@backstage/config';
import { HttpRouterConfigError, describeValue } from '../../errors';
import { parseIpAllowListEntry } from '../createIpAllowList';
import { expectedError, readBoolean } from './readConfigValue';

/**
 * The spelling of `skipSuccessfulRequests` in upstream's documentation, accepted with a deprecation warning.
 *
 * @internal
 */
export const MISSPELLED_SKIP_SUCCESSFUL_KEY = 'skipSuccesfulRequests';

/** What each limit key accepts, for the error message. */
const LIMIT_KEYS = {
  incomingRequestLimit: 'a positive whole number of requests',
  webSocketConnectionLimit: 'a positive whole number of open WebSockets',
} as const;

/**
 * Reads `incomingRequestLimit` or `webSocketConnectionLimit`: a positive whole number, or `undefined` when left
 * out.
 *
 * @internal
 */
export function readLimit(
  block: Config,
  fullKey: string,
  key: keyof typeof LIMIT_KEYS = 'incomingRequestLimit',
): number | undefined {
  let limit: number | undefined;
  try {
    limit = block.getOptionalNumber(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, LIMIT_KEYS[key], error);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw expectedError(block, key, fullKey, LIMIT_KEYS[key]);
  }
  return limit;
}

/**
 * Reads `ipAllowList`: addresses and CIDR ranges, each checked, or `undefined` when left out.
 *
 * @internal
 */
export function readIpAllowList(block: Config, fullKey: string): readonly string[] | undefined {
  const key = 'ipAllowList';
  let entries: string[] | undefined;
  try {
    entries = block.getOptionalStringArray(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, 'a list of IP addresses and CIDR ranges', error);
  }
  entries?.forEach((entry, index) => {
    if (!parseIpAllowListEntry(entry)) {
      throw new HttpRouterConfigError(
        `${fullKey}.${key}[${index}]`,
        `expected an IP address such as '10.0.0.1' or '::1', or a CIDR range such as '10.0.0.0/8' or '2001:db8::/32', got ${describeValue(entry)}`,
      );
    }
  });
  return entries && Object.freeze([...entries]);
}

/**
 * Reads `skipSuccessfulRequests` or its deprecated misspelling, which comes with a warning.
 *
 * @remarks
 * Setting both spellings in one block throws: which one wins would be a guess.
 *
 * @internal
 */
export function readSkipSuccessfulRequests(
  block: Config,
  fullKey: string,
): { value: boolean | undefined; warnings: string[] } {
  if (!block.has(MISSPELLED_SKIP_SUCCESSFUL_KEY)) {
    return { value: readBoolean(block, 'skipSuccessfulRequests', fullKey), warnings: [] };
  }
  if (block.has('skipSuccessfulRequests')) {
    throw new HttpRouterConfigError(
      `${fullKey}.${MISSPELLED_SKIP_SUCCESSFUL_KEY}`,
      `set either skipSuccessfulRequests or its deprecated misspelling ${MISSPELLED_SKIP_SUCCESSFUL_KEY} (but not both); keep skipSuccessfulRequests`,
    );
  }
  return {
    value: readBoolean(block, MISSPELLED_SKIP_SUCCESSFUL_KEY, fullKey),
    warnings: [
      `Config key '${fullKey}.${MISSPELLED_SKIP_SUCCESSFUL_KEY}' is a deprecated misspelling; rename it to '${fullKey}.skipSuccessfulRequests'`,
    ],
  };
}
