import type { LoggerService } from '@backstage/backend-plugin-api';

/**
 * How long Redis must go without a failure before an outage is reported over. A Redis Cluster with one master
 * gone answers for the keys of the others and fails for that master's: without this, every such pair of
 * requests would log an outage ending and another starting. Longer than the client's pause between two attempts
 * to reach a node that is gone (up to 1 s, plus up to 2 s for the attempt), so that those failures keep the
 * outage open even when no request needs that node. Only the log waits: requests go back to Redis at once.
 */
const DEFAULT_SETTLE_MS = 5_000;

/**
 * Whether a Redis connection is in an outage, shared by every store on that connection.
 *
 * @internal
 */
export interface RedisOutageTracker {
  /** `true` from a failure until the next success. */
  readonly down: boolean;
  /** Records a failure; the first one of an outage logs a warning. */
  reportFailure(error: unknown): void;
  /** Records a success; the outage is reported over once no failure follows for a while. */
  reportSuccess(): void;
  /**
   * Called when the connection closes: an outage that was waiting to be reported over is reported over now, and
   * nothing is reported afterwards (operations still in flight fail as the socket goes).
   */
  close(): void;
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return describeError(error.errors[0]);
  }
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Tracks outages of one Redis connection so that each logs exactly two lines: a warning when it starts and one
 * when it ends, however many requests, reconnection attempts and partial recoveries happen in between.
 *
 * @remarks
 * `down` follows every answer, so that requests go back to Redis as soon as it answers. The log follows outages:
 * an outage ends with the first success after which no failure comes for `settleMs`, and its line gives the time
 * from its first failure to that success. A failure within that time continues the same outage (a cluster with
 * one node gone, Redis restarting again). A failure before any success is reported as Redis being unreachable at
 * start-up.
 *
 * @internal
 */
export function createRedisOutageTracker(options: {
  description: string;
  logger?: LoggerService;
  now?: () => number;
  /** How long without a failure ends an outage. Defaults to 5 seconds. */
  settleMs?: number;
}): RedisOutageTracker {
  const { description, logger, now = Date.now, settleMs = DEFAULT_SETTLE_MS } = options;
  let down = false;
  let everUp = false;
  /** Whether an outage has been logged and its end not yet. */
  let inOutage = false;
  let outageSince = 0;
  /** When the success that may end the outage came. */
  let answeredSince = 0;
  let settling: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const stopSettling = () => {
    clearTimeout(settling);
    settling = undefined;
  };
  const endOutage = () => {
    stopSettling();
    inOutage = false;
    logger?.warn(
      `Redis rate-limit store ${description} is reachable again after ${answeredSince - outageSince} ms; ` +
        'requests are counted in Redis again',
    );
  };

  return {
    get down() {
      return down;
    },
    reportFailure(error) {
      if (closed) {
        return;
      }
      down = true;
      stopSettling();
      if (inOutage) {
        return;
      }
      inOutage = true;
      outageSince = now();
      const when = everUp ? 'is unreachable' : 'is unreachable at start-up';
      logger?.warn(
        `Redis rate-limit store ${description} ${when} (${describeError(error)}); until it is back, requests ` +
          'are counted in memory on this instance, or refused with 503 where the store fails closed',
      );
    },
    reportSuccess() {
      if (closed) {
        return;
      }
      everUp = true;
      if (!down) {
        return;
      }
      down = false;
      if (inOutage && settling === undefined) {
        answeredSince = now();
        settling = setTimeout(endOutage, settleMs);
        // A pending report must not keep a process alive that has nothing else to do.
        settling.unref?.();
      }
    },
    close() {
      if (settling !== undefined) {
        endOutage();
      }
      closed = true;
    },
  };
}
