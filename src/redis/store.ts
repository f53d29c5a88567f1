import {
  type ClientRateLimitInfo,
  type IncrementResponse,
  MemoryStore,
  type Options,
  type Store,
} from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { RateLimitStoreUnavailableError } from '../errors';
import type { RateLimitMetrics } from '../metrics/types';
import { MAX_TIMER_DELAY_MS } from '../readDurationMs';
import { redisWaitFailure } from './breaker';
import type { RedisConnections, RedisLease } from './connection';

/**
 * Options for {@link createRedisStore}.
 *
 * @internal
 */
export interface RedisStoreOptions {
  /** The backend's connections; stores with the same `connection` and `timeoutMs` share one. */
  connections: RedisConnections;
  /** A Redis URL, or a Redis Cluster's node URLs. */
  connection: string | string[];
  /** Prepended to every key. */
  prefix: string;
  /** The longest one store operation waits for Redis. */
  timeoutMs: number;
  /** While Redis cannot count: `true` counts in memory on this instance, `false` rejects (a 503). */
  passOnStoreError: boolean;
  /** The `Retry-After` of that 503. */
  retryAfterSeconds: number;
  /** Records how long each count waited for Redis. Defaults to none. */
  metrics?: RateLimitMetrics;
}

/** One operation: in Redis, in memory, and how to take back a hit that reached Redis too late. */
interface Operation<T> {
  key: string;
  /** `policy` follows `passOnStoreError`; `memory` always falls back to memory. */
  whenRedisFails: 'policy' | 'memory';
  viaRedis(redis: RedisStore): Promise<T>;
  viaMemory(): T | Promise<T>;
  undo?(redis: RedisStore): Promise<unknown>;
  /** Whether the wait goes on the histogram: only a count, which its request waits for. */
  timed?: boolean;
}

const ignore = () => undefined;

/**
 * Creates an express-rate-limit store that counts in Redis, shared by every instance of a backend.
 *
 * @remarks
 * Each operation waits `timeoutMs` at most, and once one has failed the connection's breaker sends the others
 * straight to the fallback: express-rate-limit's `MemoryStore` with the same window, or a
 * {@link RateLimitStoreUnavailableError} with `passOnStoreError: false`. A hit that reaches a hung Redis after
 * its request was answered without it is taken back with a `DECR`.
 *
 * @internal
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  return new BreakerGuardedRedisStore(options);
}

class BreakerGuardedRedisStore implements Store {
  /** Counters live in Redis, so two instances with one prefix share them. */
  readonly localKeys = false;
  readonly prefix: string;
  readonly #memory = new MemoryStore();
  readonly #lease: RedisLease;
  readonly #options: RedisStoreOptions;
  #limiterOptions: Options | undefined;
  /** The rate-limit-redis instance in use, or the promise of a fresh one (see {@link #acquire}). */
  #redis: RedisStore | Promise<RedisStore> | undefined;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    this.prefix = options.prefix;
    this.#lease = options.connections.acquire(options);
  }

  init(options: Options): void {
    // Past 2^31-1 ms setInterval fires every millisecond; Redis has no such limit, so the fallback forgets early.
    this.#memory.init({ ...options, windowMs: Math.min(options.windowMs, MAX_TIMER_DELAY_MS) });
    // Nothing is sent yet: rate-limit-redis's init runs on first use, when Redis may be up.
    this.#limiterOptions = options;
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
      undo: redis => redis.decrement(key),
      timed: true,
    });
  }

  decrement(key: string): Promise<void> {
    // Taking back a hit only makes a budget larger, so it never needs to fail closed.
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

  async #run<T>(operation: Operation<T>): Promise<T> {
    const { breaker, firstAttempt, isReady } = this.#lease;
    if (breaker.isOpen()) {
      // A read of the same key reaches the node that owns it in a cluster, and counts nothing.
      breaker.probe(() => this.#send(redis => redis.get(operation.key), ignore));
      return this.#fallBack(operation, undefined);
    }
    let used: RedisStore | undefined;
    const send = () => this.#send(operation.viaRedis, redis => (used = redis));
    const connecting = firstAttempt();
    // Only the first requests after start-up wait for the first connection attempt.
    const sent = connecting
      ? connecting.then(() => {
          if (!isReady()) throw new Error('Redis could not be reached at start-up');
          return send();
        })
      : send();
    const recorder = operation.timed ? this.#options.metrics : undefined;
    const startedAt = recorder ? performance.now() : 0;
    try {
      const result = await breaker.wait(sent);
      recorder?.recordStoreWait(performance.now() - startedAt);
      return result;
    } catch (error) {
      recorder?.recordStoreWait(performance.now() - startedAt, redisWaitFailure(error));
      breaker.trip(error);
      // The instance may hold a failed script load; the next success starts from a fresh one.
      if (used === undefined || this.#redis === used) this.#redis = undefined;
      const { undo } = operation;
      if (undo) sent.then(() => (used ? undo(used) : undefined)).catch(ignore);
      return this.#fallBack(operation, error);
    }
  }

  /**
   * Runs `viaRedis` on the current rate-limit-redis instance, telling `onInstance` which one it was.
   *
   * @remarks
   * rate-limit-redis keeps a failed `SCRIPT LOAD` and fails every later count with it, so after a failure the
   * store counts with a fresh instance, set up through the public `init`. If rate-limit-redis dropped a rejected
   * script load, this would be unnecessary.
   */
  #send<T>(
    viaRedis: (redis: RedisStore) => Promise<T>,
    onInstance: (redis: RedisStore) => void,
  ): Promise<T> {
    this.#redis ??= this.#start();
    const redis = this.#redis;
    if (redis instanceof Promise) {
      return redis.then(ready => {
        onInstance(ready);
        return viaRedis(ready);
      });
    }
    onInstance(redis);
    return viaRedis(redis);
  }

  #start(): Promise<RedisStore> {
    const limiterOptions = this.#limiterOptions;
    if (!limiterOptions) {
      return Promise.reject(
        new Error('The Redis rate-limit store was used before init() was called'),
      );
    }
    const fresh = new RedisStore({
      prefix: this.prefix,
      sendCommandCluster: this.#lease.sendCommand,
    });
    const started: Promise<RedisStore> = fresh.init(limiterOptions).then(
      () => {
        if (this.#redis === started) this.#redis = fresh;
        return fresh;
      },
      (error: unknown) => {
        if (this.#redis === started) this.#redis = undefined;
        throw error;
      },
    );
    return started;
  }

  async #fallBack<T>(operation: Operation<T>, cause: unknown): Promise<T> {
    if (operation.whenRedisFails === 'policy' && !this.#options.passOnStoreError) {
      throw new RateLimitStoreUnavailableError(this.#options.retryAfterSeconds, cause);
    }
    return operation.viaMemory();
  }
}
