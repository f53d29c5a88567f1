import { ServiceUnavailableError } from '@backstage/errors';
import { ERROR_CODES } from '../../errors';

/**
 * The codes of the Redis rate-limit store's errors, under short names; the same values as in {@link ERROR_CODES}.
 *
 * @public
 */
export const REDIS_STORE_ERROR_CODES = {
  /** An option of {@link createRedisRateLimitStore}, such as `connection` or `timeoutMs`, cannot be used. */
  option: ERROR_CODES.redisStoreOption,
  /** Redis could not count a request and the store fails closed (`passOnStoreError: false`). */
  unavailable: ERROR_CODES.rateLimitStoreUnavailable,
} as const;

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
  readonly code = REDIS_STORE_ERROR_CODES.option;
  /** The option at fault, for example `connection`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`Invalid Redis rate-limit store option '${option}': ${message}`);
    this.name = 'RedisStoreOptionError';
    this.option = option;
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
  readonly code = REDIS_STORE_ERROR_CODES.unavailable;
  readonly statusCode = 503;
  /** How long a client should wait before trying again, in whole seconds. */
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, cause?: unknown) {
    super('Rate limiting is unavailable because its Redis store cannot be reached', cause);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A wait for Redis that ended because no answer came within the store's timeout (or within what its request had
 * left of it, see `RequestWaitSpentError`).
 *
 * @remarks
 * Never reaches a client (the limiter answers with an error of its own); it lets the store tell a timeout from an
 * error answered by Redis, for the `error.type` of the wait histogram.
 *
 * @internal
 */
export class RedisTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * Why a wait for Redis ended without an answer: `timeout` when it timed out, or when it was given up because
 * another wait had just timed out (the {@link RedisTimeoutError} is then its `cause`); `error` otherwise.
 *
 * @internal
 */
export function redisWaitFailure(error: unknown): 'timeout' | 'error' {
  const cause = error instanceof Error ? error.cause : undefined;
  return error instanceof RedisTimeoutError || cause instanceof RedisTimeoutError
    ? 'timeout'
    : 'error';
}
