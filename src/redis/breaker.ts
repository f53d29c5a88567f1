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
export type RedisBreaker = ReturnType<typeof createRedisBreaker>;

/** Options for {@link createRedisBreaker}; `isConnecting` while the first connection attempt goes on. */
export interface RedisBreakerOptions {
  /** The connection, password masked, as log lines name it. */
  description: string;
  timeoutMs: number;
  isReady: () => boolean;
  isConnecting: () => boolean;
  /** Receives one warning when an outage starts and one when it ends. Defaults to none. */
  logger?: LoggerService;
  /** How long without a failure ends an outage in the log. Defaults to 5 seconds. */
  outageSettleMs?: number;
}

type Wait = { deadline: number; reject(error: unknown): void };

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0)
    return describeError(error.errors[0]);
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Creates the circuit breaker of one Redis connection: once a wait failed, or while the connection is down,
 * requests go to the fallback at once and waits in progress give up, until a background probe succeeds.
 */
export function createRedisBreaker(options: RedisBreakerOptions) {
  const { description, timeoutMs, isReady, isConnecting, logger } = options;
  const { outageSettleMs = OUTAGE_SETTLE_MS } = options;
  let tripped = false;
  let probing = false;
  let everUp = false;
  let closed = false;
  let outageSince: number | undefined;
  let answeredAt = 0;
  let settling: NodeJS.Timeout | undefined;
  // In insertion order, which is deadline order as all share one timeout: one timer serves them all.
  const waits = new Set<Wait>();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const oldest = waits.values().next().value;
    if (oldest) timer = setTimeout(expire, Math.max(0, oldest.deadline - Date.now())).unref();
  };
  const expire = () => {
    timer = undefined;
    const now = Date.now();
    for (const wait of waits) {
      if (wait.deadline > now) break;
      waits.delete(wait);
      wait.reject(new RedisTimeoutError(timeoutMs));
    }
    arm();
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
      answeredAt = Date.now();
      settling = setTimeout(endOutage, outageSettleMs).unref();
    }
  };
  const failed = (error: unknown) => {
    if (closed) return;
    clearTimeout(settling);
    settling = undefined;
    if (outageSince !== undefined) return;
    outageSince = Date.now();
    logger?.warn(
      `Redis rate-limit store ${description} ${everUp ? 'is unreachable' : 'is unreachable at start-up'} ` +
        `(${describeError(error)}); until it is back, requests are counted in memory on this instance, or ` +
        'refused with 503 where the store fails closed',
    );
  };

  return {
    /** Whether requests skip Redis now: a wait failed and no probe succeeded since, or the connection is down. */
    isOpen: () => tripped || (!isReady() && !isConnecting()),
    /** Settles like `operation`, or rejects after `timeoutMs` or as soon as the breaker opens. */
    wait<T>(operation: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const wait: Wait = { deadline: Date.now() + timeoutMs, reject };
        waits.add(wait);
        if (timer === undefined) arm();
        operation.then(
          value => {
            if (!waits.delete(wait)) return;
            succeeded();
            resolve(value);
          },
          (error: unknown) =>
            void (
              waits.delete(wait) &&
              reject(error instanceof Error ? error : new Error(String(error)))
            ),
        );
      });
    },
    /** Records a failed wait or connection error: opens the breaker, and every wait in progress gives up. */
    trip(error: unknown) {
      failed(error);
      if (tripped) return;
      tripped = true;
      // The cause tells the wait histogram whether the waits given up here ended because of a timeout.
      const released = new Error('Redis failed another request just now', { cause: error });
      for (const wait of waits) wait.reject(released);
      waits.clear();
    },
    /** Runs `probe` in the background unless one is running; its success closes the breaker. */
    probe(probe: () => Promise<unknown>) {
      if (probing || !isReady()) return;
      probing = true;
      this.wait(Promise.resolve().then(probe))
        .then(() => (tripped = false), failed)
        .finally(() => (probing = false));
    },
    /** The connection completed a handshake with Redis. */
    reset() {
      tripped = false;
      succeeded();
    },
    /** The connection closed: an outage waiting to be logged as over is logged now, and nothing after. */
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
