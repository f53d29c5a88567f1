import type { LoggerService } from '@backstage/backend-plugin-api';

/**
 * Whether a Redis connection is in an outage, shared by every store on that connection.
 *
 * @internal
 */
export interface RedisOutageTracker {
  /** `true` from the first failure until the next success. */
  readonly down: boolean;
  /** Records a failure; the first one of an outage logs a warning. */
  reportFailure(error: unknown): void;
  /** Records a success; the first one after an outage logs that it ended. */
  reportSuccess(): void;
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return describeError(error.errors[0]);
  }
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Tracks outages of one Redis connection so that each logs exactly two lines: a warning when it starts and one
 * when it ends, however many requests and reconnection attempts happen in between.
 *
 * @remarks
 * A failure before any success is reported as Redis being unreachable at start-up.
 *
 * @internal
 */
export function createRedisOutageTracker(options: {
  description: string;
  logger?: LoggerService;
  now?: () => number;
}): RedisOutageTracker {
  const { description, logger, now = Date.now } = options;
  let down = false;
  let everUp = false;
  let downSince = 0;
  return {
    get down() {
      return down;
    },
    reportFailure(error) {
      if (down) {
        return;
      }
      down = true;
      downSince = now();
      const when = everUp ? 'is unreachable' : 'is unreachable at start-up';
      logger?.warn(
        `Redis rate-limit store ${description} ${when} (${describeError(error)}); until it is back, requests ` +
          'are counted in memory on this instance, or refused with 503 where the store fails closed',
      );
    },
    reportSuccess() {
      everUp = true;
      if (!down) {
        return;
      }
      down = false;
      logger?.warn(
        `Redis rate-limit store ${description} is reachable again after ${now() - downSince} ms; ` +
          'requests are counted in Redis again',
      );
    },
  };
}
