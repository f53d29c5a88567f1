import { RedisTimeoutError } from './RedisTimeoutError';

/**
 * Why a store operation did not wait for Redis: its request has waited its whole `timeoutMs` already.
 *
 * @remarks
 * A {@link RedisTimeoutError}, so that the wait histogram labels a wait cut short by the request's deadline as a
 * timeout, like one that ran its full `timeoutMs`.
 *
 * @internal
 */
export class RequestWaitSpentError extends RedisTimeoutError {
  constructor(timeoutMs: number) {
    super(`The request has waited ${timeoutMs} ms for its rate-limit store already`);
    this.name = 'RequestWaitSpentError';
  }
}
