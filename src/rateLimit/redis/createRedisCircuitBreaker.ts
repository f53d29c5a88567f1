import type { RedisOutageTracker } from './createRedisOutageTracker';
import { RedisTimeoutError } from '../../errors';
import type { RedisConnection } from './types';
import { withTimeout } from './withTimeout';

/**
 * Decides, for every store on one Redis connection, whether a request may wait for Redis at all.
 *
 * @internal
 */
export interface RedisCircuitBreaker {
  /**
   * Whether requests should skip Redis now: a wait has failed and no probe has succeeded since, or the
   * connection is known to be down.
   */
  isOpen(): boolean;
  /**
   * Settles like `operation`, or rejects once `timeoutMs` has passed or the breaker opens, whichever comes
   * first; a success is reported to the outage tracker.
   */
  wait<T>(operation: Promise<T>): Promise<T>;
  /** Records a failed wait: opens the breaker, and every wait still in progress gives up at once. */
  trip(error: unknown): void;
  /**
   * Runs `probe` in the background, bounded by `timeoutMs`, unless another probe is running or the connection
   * cannot send; its success closes the breaker. Nobody waits for it.
   */
  probe(probe: () => Promise<unknown>): void;
  /** Closes the breaker: the connection has just completed a handshake with Redis. */
  reset(): void;
}

/**
 * Creates the circuit breaker of one Redis connection.
 *
 * @remarks
 * Once a wait has failed (timed out, or Redis answered with an error), or while the connection is down,
 * requests go to the fallback at once instead of each waiting out the timeout: a request that crosses several
 * limiters on the same connection waits one `timeoutMs` at most, and one that was already waiting when the
 * breaker opened stops waiting then. One probe at a time, run by the store on behalf of a request that does not
 * wait for it, checks whether Redis answers again; counting in Redis resumes on its first success, or when the
 * connection completes a new handshake.
 *
 * @internal
 */
export function createRedisCircuitBreaker(options: {
  connection: Pick<RedisConnection, 'isReady' | 'firstAttempt'>;
  outages: RedisOutageTracker;
  timeoutMs: number;
}): RedisCircuitBreaker {
  const { connection, outages, timeoutMs } = options;
  let tripped = false;
  let probing = false;
  /** The waits in progress, each with the function that makes it give up. */
  const waiters = new Set<(error: Error) => void>();
  const timedOut = () => new RedisTimeoutError(`Redis did not answer within ${timeoutMs} ms`);

  return {
    isOpen() {
      return tripped || (!connection.isReady() && connection.firstAttempt() === undefined);
    },
    wait<T>(operation: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const giveUp = (error: Error) => {
          clearTimeout(timer);
          waiters.delete(giveUp);
          reject(error);
        };
        const timer = setTimeout(() => giveUp(timedOut()), timeoutMs);
        timer.unref();
        waiters.add(giveUp);
        operation.then(
          value => {
            clearTimeout(timer);
            waiters.delete(giveUp);
            outages.reportSuccess();
            resolve(value);
          },
          (error: unknown) => giveUp(error instanceof Error ? error : new Error(String(error))),
        );
      });
    },
    trip(error) {
      outages.reportFailure(error);
      if (tripped) {
        return;
      }
      tripped = true;
      // The cause tells the store's metrics whether the waits given up here ended because of a timeout.
      const released = new Error('Redis failed another request just now; not waiting for it', {
        cause: error,
      });
      for (const giveUp of [...waiters]) {
        giveUp(released);
      }
    },
    probe(probe) {
      if (probing || !connection.isReady()) {
        return;
      }
      probing = true;
      withTimeout(Promise.resolve().then(probe), timeoutMs, timedOut).then(
        () => {
          probing = false;
          tripped = false;
          outages.reportSuccess();
        },
        (error: unknown) => {
          probing = false;
          outages.reportFailure(error);
        },
      );
    },
    reset() {
      tripped = false;
    },
  };
}
