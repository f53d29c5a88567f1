import type { LoggerService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError, toError } from '@backstage/errors';
import type { Response } from 'express';
import { RateLimitStoreUnavailableError } from '../errors';
import { markAsLogged } from '../middleware/loggedErrors';

/**
 * The 503 of a request whose count failed, with `Retry-After` when the store's error carries `retryAfterSeconds`;
 * logs the failure unless the store already has.
 *
 * @internal
 */
export function refuseUncounted(
  res: Response,
  failure: unknown,
  policyName: string,
  logger: LoggerService | undefined,
): ServiceUnavailableError {
  const retryAfterSeconds = (failure as { retryAfterSeconds?: unknown } | null | undefined)
    ?.retryAfterSeconds;
  if (typeof retryAfterSeconds === 'number' && !res.headersSent) {
    res.setHeader('Retry-After', String(retryAfterSeconds));
  }
  // A fresh error, so that neither the store's message nor its cause (addresses, timeouts) reach the client.
  const refusal = new ServiceUnavailableError('Rate limiting is unavailable; try again later');
  if (failure instanceof RateLimitStoreUnavailableError) {
    return markAsLogged(refusal);
  }
  if (!logger) {
    return refusal;
  }
  logger.error(`Rate limiter '${policyName}' failed; refusing the request`, toError(failure));
  return markAsLogged(refusal);
}
