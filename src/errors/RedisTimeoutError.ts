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
