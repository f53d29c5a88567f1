import {
  type ClientRateLimitInfo,
  type IncrementResponse,
  MemoryStore,
  type Options,
  type Store,
} from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { RateLimitStoreUnavailableError } from '../errors';
import type { RateLimitMetrics } from '../metrics';
import { MAX_TIMER_DELAY_MS } from '../readDurationMs';
import { redisWaitFailure } from './breaker';
import type { RedisConnections, RedisLease } from './connection';

/** Options for {@link createRedisStore}. */
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

type OperationName = 'get' | 'increment' | 'decrement' | 'resetKey';

const ignore = () => undefined;

/**
 * Creates an express-rate-limit store counting in Redis: each operation waits `timeoutMs` at most, then the
 * breaker sends the others to the fallback (a `MemoryStore`, or a 503 with `passOnStoreError: false`).
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
  /** The rate-limit-redis instance in use, or the promise of a fresh one. */
  #redis: RedisStore | Promise<RedisStore> | undefined;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    this.prefix = options.prefix;
    this.#lease = options.connections.acquire(options);
  }

  init(options: Options): void {
    // Past 2^31-1 ms setInterval fires every millisecond; Redis has no such limit, so the fallback forgets early.
    this.#memory.init({ ...options, windowMs: Math.min(options.windowMs, MAX_TIMER_DELAY_MS) });
    // Nothing is sent yet: rate-limit-redis's init runs on first use, when Redis may be up; again after a rebuild.
    this.#limiterOptions = options;
    this.#redis = undefined;
  }

  get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return this.#run('get', key);
  }

  increment(key: string): Promise<IncrementResponse> {
    return this.#run('increment', key);
  }

  decrement(key: string): Promise<void> {
    return this.#run('decrement', key);
  }

  async resetKey(key: string): Promise<void> {
    await this.#memory.resetKey(key);
    await this.#run('resetKey', key);
  }

  shutdown(): void {
    this.#memory.shutdown();
    this.#lease.release();
  }

  #run<T>(name: OperationName, key: string): Promise<T> {
    const { breaker, firstAttempt, isReady } = this.#lease;
    if (breaker.isOpen()) {
      // A read of the same key reaches the node that owns it in a cluster, and counts nothing.
      breaker.probe(() => this.#send('get', key, ignore));
      return this.#fallBack(name, key, undefined);
    }
    let used: RedisStore | undefined;
    const connecting = firstAttempt();
    // Only the first requests after start-up wait for the first connection attempt.
    const sent: Promise<T> = connecting
      ? connecting.then(() => {
          if (!isReady()) throw new Error('Redis could not be reached at start-up');
          return this.#send(name, key, redis => (used = redis));
        })
      : this.#send(name, key, redis => (used = redis));
    // Only a count goes on the histogram: its request waits for it.
    const recorder = name === 'increment' ? this.#options.metrics : undefined;
    const startedAt = recorder ? performance.now() : 0;
    return breaker.wait(sent).then(
      result => {
        recorder?.recordStoreWait(performance.now() - startedAt);
        return result;
      },
      (error: unknown) => {
        recorder?.recordStoreWait(performance.now() - startedAt, redisWaitFailure(error));
        breaker.trip(error);
        // The instance may hold a failed script load; the next success starts from a fresh one.
        if (used === undefined || this.#redis === used) this.#redis = undefined;
        if (name === 'increment') {
          // Counted in memory (or refused): a hit that reaches a hung Redis later would count twice.
          sent.then(() => used?.decrement(key)).catch(ignore);
        }
        return this.#fallBack<T>(name, key, error);
      },
    );
  }

  /**
   * Runs `name` on the current rate-limit-redis instance. That keeps a failed `SCRIPT LOAD` and fails every later
   * count with it, hence a fresh one after a failure; rate-limit-redis dropping a rejected load would remove this.
   */
  #send<T>(name: OperationName, key: string, onInstance: (redis: RedisStore) => void): Promise<T> {
    this.#redis ??= this.#start();
    const redis = this.#redis;
    if (redis instanceof Promise) {
      return redis.then(ready => {
        onInstance(ready);
        return ready[name](key) as Promise<T>;
      });
    }
    onInstance(redis);
    return redis[name](key) as Promise<T>;
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

  async #fallBack<T>(name: OperationName, key: string, cause: unknown): Promise<T> {
    // Taking back a hit only makes a budget larger, so it never needs to fail closed.
    if (name !== 'decrement' && !this.#options.passOnStoreError) {
      throw new RateLimitStoreUnavailableError(this.#options.retryAfterSeconds, cause);
    }
    // The memory store cannot reset in Redis; its own reset ran already.
    return (name === 'resetKey' ? undefined : this.#memory[name](key)) as T;
  }
}
