import type { LoggerService } from '@backstage/backend-plugin-api';
import { toError } from '@backstage/errors';
import type { Logger } from 'express-rate-limit';

/**
 * Sends express-rate-limit's messages to the Backstage logger, naming the limiter.
 *
 * @internal
 */
export function toRateLimitLogger(logger: LoggerService, policyName: string): Logger {
  const forward =
    (level: 'warn' | 'error') =>
    (error: unknown, message?: string): void => {
      const cause = toError(error);
      logger[level](`Rate limiter '${policyName}': ${message ?? cause.message}`, cause);
    };
  return { warn: forward('warn'), error: forward('error') };
}
