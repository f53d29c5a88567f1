import type { LoggerService } from '@backstage/backend-plugin-api';

/** Failure-free time that ends an outage in the log: a cluster with one master gone is one outage, not many. */
const OUTAGE_SETTLE_MS = 5_000;

/** A wait for Redis that ended because no answer came within the store's timeout; never reaches a client. */
export class RedisTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/** Whether requests on one Redis connection may wait for Redis, and the log of its outages. */
export interface RedisBreaker {
  /** Whether requests skip Redis now: a wait failed and no probe succeeded since, or the connection is down. */
  isOpen(): boolean;
  /** Settles like `operation`, or rejects after `timeoutMs` or as soon as the breaker opens. */
  wait<T>(operation: Promise<T>): Promise<T>;
  /** Records a failed wait or connection error: opens the breaker, and every wait in progress gives up. */
  trip(error: unknown): void;
  /** Runs `probe` in the background unless one is running; its success closes the breaker. */
  probe(probe: () => Promise<unknown>): void;
  /** The connection completed a handshake with Redis: closes the breaker. */
  reset(): void;
  /** The connection closed: an outage waiting to be logged as over is logged now, and nothing after. */
  close(): void;
}

/** Options for {@link createRedisBreaker}. */
export interface RedisBreakerOptions {
  /** The connection, password masked, as log lines name it. */
  description: string;
  /** The longest one wait lasts. */
  timeoutMs: number;
  /** Whether the connection can send commands now. */
  isReady: () => boolean;
  /** Whether the first connection attempt is still going on (requests then wait for it). */
  isConnecting: () => boolean;
  /** Receives one warning when an outage starts and one when it ends. Defaults to none. */
  logger?: LoggerService;
  /** How long without a failure ends an outage in the log. Defaults to 5 seconds. */
  outageSettleMs?: number;
  /** The clock of the outage durations. Defaults to `Date.now`. */
  now?: () => number;
}

interface Wait {
  deadline: number;
  done: boolean;
  /** Rejects the wait, unless it has ended already. */
  end(error: Error): void;
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return describeError(error.errors[0]);
  }
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Creates the circuit breaker of one Redis connection: once a wait failed, or while the connection is down,
 * requests go to the fallback at once and waits in progress give up, until a background probe succeeds.
 */
export function createRedisBreaker(options: RedisBreakerOptions): RedisBreaker {
  const { description, timeoutMs, isReady, isConnecting, logger } = options;
  const { outageSettleMs = OUTAGE_SETTLE_MS, now = Date.now } = options;
  let tripped = false;
  let probing = false;
  let everUp = false;
  let closed = false;
  let outageSince: number | undefined;
  let answeredAt = 0;
  let settling: NodeJS.Timeout | undefined;
  /** Waits in progress, oldest first: all share one timeout, so this is also deadline order. */
  let waits: Wait[] = [];
  let next = 0;
  let timer: NodeJS.Timeout | undefined;

  // One timer for every wait on the connection, rather than one per count: it fires at the oldest deadline.
  const armTimer = () => {
    while (next < waits.length && waits[next].done) next++;
    if (next === waits.length) {
      waits = [];
      next = 0;
    } else if (timer === undefined) {
      timer = setTimeout(expire, Math.max(0, waits[next].deadline - now()));
      timer.unref();
    }
  };
  const expire = () => {
    timer = undefined;
    const at = now();
    while (next < waits.length && (waits[next].done || waits[next].deadline <= at)) {
      const wait = waits[next++];
      if (!wait.done) wait.end(new RedisTimeoutError(timeoutMs));
    }
    if (next > 1024 && next * 2 > waits.length) {
      waits = waits.slice(next);
      next = 0;
    }
    armTimer();
  };

  const endOutage = () => {
    clearTimeout(settling);
    settling = undefined;
    logger?.warn(
      `Redis rate-limit store ${description} is reachable again after ${answeredAt - outageSince!} ms; ` +
        'requests are counted in Redis again',
    );
    outageSince = undefined;
  };
  const succeeded = () => {
    if (closed) return;
    everUp = true;
    if (outageSince !== undefined && settling === undefined) {
      answeredAt = now();
      settling = setTimeout(endOutage, outageSettleMs);
      settling.unref();
    }
  };
  const failed = (error: unknown) => {
    if (closed) return;
    clearTimeout(settling);
    settling = undefined;
    if (outageSince !== undefined) return;
    outageSince = now();
    logger?.warn(
      `Redis rate-limit store ${description} ${everUp ? 'is unreachable' : 'is unreachable at start-up'} ` +
        `(${describeError(error)}); until it is back, requests are counted in memory on this instance, or ` +
        'refused with 503 where the store fails closed',
    );
  };

  return {
    isOpen: () => tripped || (!isReady() && !isConnecting()),
    wait<T>(operation: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const wait: Wait = {
          deadline: now() + timeoutMs,
          done: false,
          end(error) {
            if (!wait.done) {
              wait.done = true;
              reject(error);
            }
          },
        };
        waits.push(wait);
        armTimer();
        operation.then(
          value => {
            if (!wait.done) {
              wait.done = true;
              succeeded();
              resolve(value);
            }
          },
          (error: unknown) => wait.end(error instanceof Error ? error : new Error(String(error))),
        );
      });
    },
    trip(error) {
      failed(error);
      if (tripped) return;
      tripped = true;
      // The cause tells the wait histogram whether the waits given up here ended because of a timeout.
      const released = new Error('Redis failed another request just now', { cause: error });
      for (let index = next; index < waits.length; index++) {
        waits[index].end(released);
      }
    },
    probe(probe) {
      if (probing || !isReady()) return;
      probing = true;
      this.wait(Promise.resolve().then(probe)).then(
        () => {
          probing = false;
          tripped = false;
        },
        (error: unknown) => {
          probing = false;
          failed(error);
        },
      );
    },
    reset() {
      tripped = false;
      succeeded();
    },
    close() {
      if (settling !== undefined) endOutage();
      closed = true;
    },
  };
}

/** Why a wait ended unanswered, for the wait histogram: `timeout` also when another's timeout ended it. */
export function redisWaitFailure(error: unknown): 'timeout' | 'error' {
  const cause = error instanceof Error ? error.cause : undefined;
  return error instanceof RedisTimeoutError || cause instanceof RedisTimeoutError
    ? 'timeout'
    : 'error';
}
