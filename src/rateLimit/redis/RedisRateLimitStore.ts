import {
  type ClientRateLimitInfo,
  type IncrementResponse,
  MemoryStore,
  type Options,
  type Store,
} from 'express-rate-limit';
import type { RedisStore } from 'rate-limit-redis';
import { RateLimitStoreUnavailableError, redisWaitFailure } from '../../errors';
import type { RateLimitMetrics } from '../../metrics/types';
import { MAX_TIMER_DELAY_MS } from '../../readDurationMs';
import { createRenewableRedisStore, type RenewableRedisStore } from './createRenewableRedisStore';
import type { RedisConnectionLease } from './redisConnectionRegistry';

/** Which way an operation goes while Redis cannot answer. */
type WhenRedisFails = 'policy' | 'memory';

/** One operation as the store runs it: in Redis, in memory, and how to take back a late hit. */
interface Operation<T> {
  key: string;
  whenRedisFails: WhenRedisFails;
  viaRedis(redis: RedisStore): Promise<T>;
  viaMemory(): T | Promise<T>;
  /** Undoes the operation in Redis when it landed after the request had been answered without it. */
  undo?(redis: RedisStore): Promise<unknown>;
  /** Whether its wait goes on the wait histogram: only a request's count, which the request waits for. */
  timed?: boolean;
}

const ignore = () => undefined;

/**
 * The Redis rate-limit store: counts in Redis within the connection's timeout, and in memory (or not at all)
 * when Redis cannot answer; see {@link createRedisRateLimitStore}, which validates its options.
 *
 * @internal
 */
export class RedisRateLimitStore implements Store {
  /** Counters live in Redis, so two instances with one prefix share them. */
  readonly localKeys = false;
  readonly prefix: string;

  readonly #redis: RenewableRedisStore;
  readonly #memory = new MemoryStore();
  readonly #lease: RedisConnectionLease;
  readonly #passOnStoreError: boolean;
  readonly #retryAfterSeconds: number;
  readonly #metrics: RateLimitMetrics | undefined;

  constructor(options: {
    lease: RedisConnectionLease;
    prefix: string;
    passOnStoreError: boolean;
    retryAfterSeconds: number;
    metrics: RateLimitMetrics | undefined;
  }) {
    this.#lease = options.lease;
    this.prefix = options.prefix;
    this.#passOnStoreError = options.passOnStoreError;
    this.#retryAfterSeconds = options.retryAfterSeconds;
    this.#metrics = options.metrics;
    this.#redis = createRenewableRedisStore({
      prefix: options.prefix,
      sendCommand: options.lease.connection.sendCommand,
    });
  }

  init(options: Options): void {
    // The fallback's clean-up runs on setInterval, which fires every millisecond for a delay beyond 2^31-1 ms;
    // a window that long (Redis has no such limit) gets a fallback that forgets a little early instead.
    this.#memory.init({ ...options, windowMs: Math.min(options.windowMs, MAX_TIMER_DELAY_MS) });
    // Sends nothing yet: rate-limit-redis's init is run on first use, when Redis may be up.
    this.#redis.init(options);
  }

  get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return this.#run({
      key,
      whenRedisFails: 'policy',
      viaRedis: redis => redis.get(key),
      viaMemory: () => this.#memory.get(key),
    });
  }

  increment(key: string): Promise<IncrementResponse> {
    return this.#run({
      key,
      whenRedisFails: 'policy',
      viaRedis: redis => redis.increment(key),
      viaMemory: () => this.#memory.increment(key),
      // The request was counted in memory (or refused): a hit that reaches Redis after all, once a hung Redis
      // works through its queue, would count twice.
      undo: redis => redis.decrement(key),
      timed: true,
    });
  }

  decrement(key: string): Promise<void> {
    // Taking back a hit can only make a client's budget larger, so it never needs to fail closed.
    return this.#run({
      key,
      whenRedisFails: 'memory',
      viaRedis: redis => redis.decrement(key),
      viaMemory: () => this.#memory.decrement(key),
    });
  }

  async resetKey(key: string): Promise<void> {
    await this.#memory.resetKey(key);
    await this.#run({
      key,
      whenRedisFails: 'policy',
      viaRedis: redis => redis.resetKey(key),
      viaMemory: ignore,
    });
  }

  shutdown(): void {
    this.#memory.shutdown();
    this.#lease.release();
  }

  /** Runs an operation in Redis within the timeout, or in memory (or not at all) when Redis cannot answer. */
  async #run<T>(operation: Operation<T>): Promise<T> {
    const { connection, breaker } = this.#lease;
    if (breaker.isOpen()) {
      // A read of the same key: it reaches the node that owns the key in a cluster, and counts nothing.
      breaker.probe(() => this.#send(redis => redis.get(operation.key)));
      return this.#fallBack(operation, undefined);
    }
    let used: RedisStore | undefined;
    const recorder = operation.timed ? this.#metrics : undefined;
    const startedAt = recorder ? performance.now() : 0;
    const firstAttempt = connection.firstAttempt();
    // Only the first requests after start-up wait for the first connection attempt; later ones go straight on.
    const sent = firstAttempt
      ? firstAttempt.then(() => {
          if (!connection.isReady()) {
            throw new Error('Redis could not be reached at start-up');
          }
          return this.#send(operation.viaRedis, redis => (used = redis));
        })
      : this.#send(operation.viaRedis, redis => (used = redis));
    try {
      const result = await breaker.wait(sent);
      recorder?.recordStoreWait(performance.now() - startedAt);
      return result;
    } catch (error) {
      recorder?.recordStoreWait(performance.now() - startedAt, redisWaitFailure(error));
      breaker.trip(error);
      // The instance may hold a failed script load; the next success starts from a fresh one.
      this.#redis.discard(used);
      const { undo } = operation;
      if (undo) {
        sent.then(() => (used ? undo(used) : undefined)).catch(ignore);
      }
      return this.#fallBack(operation, error);
    }
  }

  /** Runs `viaRedis` with the current rate-limit-redis instance, telling `onInstance` which one it was. */
  #send<T>(
    viaRedis: (redis: RedisStore) => Promise<T>,
    onInstance?: (redis: RedisStore) => void,
  ): Promise<T> {
    const redis = this.#redis.acquire();
    if (redis instanceof Promise) {
      return redis.then(ready => {
        onInstance?.(ready);
        return viaRedis(ready);
      });
    }
    onInstance?.(redis);
    return viaRedis(redis);
  }

  async #fallBack<T>(operation: Operation<T>, cause: unknown): Promise<T> {
    if (operation.whenRedisFails === 'policy' && !this.#passOnStoreError) {
      throw new RateLimitStoreUnavailableError(this.#retryAfterSeconds, cause);
    }
    return operation.viaMemory();
  }
}
