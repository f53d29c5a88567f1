import type { Config } from '@backstage/config';
import type { PrincipalRateLimits, PrincipalRequestLimit } from '../types';
import { expectedError } from './readConfigValue';

/** The value of `userRequestLimit` or `serviceRequestLimit` that turns counting off for that kind. */
export const UNLIMITED = 'unlimited';

/**
 * The per-principal keys of a limiter block, and which budget each sets.
 *
 * @internal
 */
export const PRINCIPAL_LIMIT_KEYS = {
  userRequestLimit: 'user',
  serviceRequestLimit: 'service',
  failedAuthenticationLimit: 'failedAuthentication',
} as const;

const POSITIVE = 'a positive whole number of requests';

/**
 * Reads `userRequestLimit`, `serviceRequestLimit` and `failedAuthenticationLimit` over the parent block's.
 *
 * @remarks
 * Returns `undefined` when neither the block nor its parent sets any of them, so that options without them
 * look exactly as before these keys existed. Each key is inherited on its own, like every other key.
 *
 * @param block - The top-level or plugin block.
 * @param fullKey - The full key of `block`.
 * @param parent - The parent block's budgets. Defaults to none.
 * @internal
 */
export function readPrincipalLimits(
  block: Config,
  fullKey: string,
  parent?: Readonly<PrincipalRateLimits>,
): PrincipalRateLimits | undefined {
  const user = readPrincipalLimit(block, 'userRequestLimit', fullKey) ?? parent?.user;
  const service = readPrincipalLimit(block, 'serviceRequestLimit', fullKey) ?? parent?.service;
  const failedAuthentication =
    readPositive(block, 'failedAuthenticationLimit', fullKey, POSITIVE) ??
    parent?.failedAuthentication;
  const limits: PrincipalRateLimits = {};
  if (user !== undefined) limits.user = user;
  if (service !== undefined) limits.service = service;
  if (failedAuthentication !== undefined) limits.failedAuthentication = failedAuthentication;
  return Object.keys(limits).length > 0 ? limits : undefined;
}

function readPrincipalLimit(
  block: Config,
  key: string,
  fullKey: string,
): PrincipalRequestLimit | undefined {
  if (block.getOptional(key) === UNLIMITED) {
    return UNLIMITED;
  }
  return readPositive(block, key, fullKey, `${POSITIVE}, or '${UNLIMITED}'`);
}

function readPositive(
  block: Config,
  key: string,
  fullKey: string,
  what: string,
): number | undefined {
  let limit: number | undefined;
  try {
    limit = block.getOptionalNumber(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, what, error);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw expectedError(block, key, fullKey, what);
  }
  return limit;
}
