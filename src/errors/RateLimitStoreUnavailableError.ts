import { ServiceUnavailableError } from '@backstage/errors';
import { ERROR_CODES } from './codes';

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
