import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { createMemoryRateLimitStore } from './createMemoryRateLimitStore';
import { RateLimitStoreUnavailableError, RedisStoreOptionError } from './redis/errors';
import { acquireRedisConnection, type RedisConnectionLease } from './redis/redisConnectionRegistry';
import type { RedisRateLimitStoreOptions } from './redis/types';
import { withTimeout } from './redis/withTimeout';

/** How long a request may wait for Redis by default, in milliseconds. */
const DEFAULT_TIMEOUT_MS = 100;

/** The longest delay `setTimeout` and `setInterval` accept. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
/** The `Retry-After` of a request refused while Redis is down, by default, in seconds. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
/**
 * A SHA1 that names no script. `EVALSHA` of it answers NOSCRIPT, upon which rate-limit-redis loads its script and
 * tries again: the one recovery path it already has.
 */
const UNLOADED_SCRIPT_SHA = '0'.repeat(40);

/** Which way an operation goes while Redis cannot answer. */
type WhenRedisFails = 'policy' | 'memory';

class RedisRateLimitStore implements Store {
  /** Counters live in Redis, so two instances with one prefix share them. */
  readonly localKeys = false;
  readonly prefix: string;

  readonly #redis: RedisStore;
  readonly #memory = createMemoryRateLimitStore();
  readonly #lease: RedisConnectionLease;
  readonly #timeoutMs: number;
  readonly #passOnStoreError: boolean;
  readonly #retryAfterSeconds: number;
  /** Whether a request is already finding out if Redis is back, so others need not wait for it too. */
  #probing = false;

  constructor(options: {
    lease: RedisConnectionLease;
    prefix: string;
    timeoutMs: number;
    passOnStoreError: boolean;
    retryAfterSeconds: number;
  }) {
    this.#lease = options.lease;
    this.prefix = options.prefix;
    this.#timeoutMs = options.timeoutMs;
    this.#passOnStoreError = options.passOnStoreError;
    this.#retryAfterSeconds = options.retryAfterSeconds;
    this.#redis = new RedisStore({
      prefix: options.prefix,
      sendCommandCluster: options.lease.connection.sendCommand,
    });
    this.#forgetScripts();
  }

  init(options: Options): void {
    // The fallback's clean-up runs on setInterval, which fires every millisecond for a delay beyond 2^31-1 ms;
    // a window that long (Redis has no such limit) gets a fallback that forgets a little early instead.
    this.#memory.init({ ...options, windowMs: Math.min(options.windowMs, MAX_TIMER_DELAY_MS) });
    // rate-limit-redis's own init loads its scripts and keeps the promises; when Redis is down at start-up those
    // stay rejected and every later call fails with them. Scripts are loaded on first use instead.
    this.#redis.windowMs = options.windowMs;
  }

  get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return this.#run(
      'policy',
      () => this.#redis.get(key),
      () => this.#memory.get(key),
    );
  }

  increment(key: string): Promise<IncrementResponse> {
    return this.#run(
      'policy',
      () => this.#redis.increment(key),
      () => this.#memory.increment(key),
    );
  }

  decrement(key: string): Promise<void> {
    // Taking back a hit can only make a client's budget larger, so it never needs to fail closed.
    return this.#run(
      'memory',
      () => this.#redis.decrement(key),
      () => this.#memory.decrement(key),
    );
  }

  async resetKey(key: string): Promise<void> {
    await this.#memory.resetKey(key);
    await this.#run(
      'policy',
      () => this.#redis.resetKey(key),
      () => undefined,
    );
  }

  shutdown(): void {
    this.#memory.shutdown();
    this.#lease.release();
  }

  /** Runs an operation in Redis within the timeout, or in memory (or not at all) when Redis cannot answer. */
  async #run<T>(
    whenRedisFails: WhenRedisFails,
    viaRedis: () => Promise<T>,
    viaMemory: () => T | Promise<T>,
  ): Promise<T> {
    const { connection, outages } = this.#lease;
    const firstAttempt = connection.firstAttempt();
    // While disconnected a command would fail at once anyway, and the connection reports the outage itself.
    // While Redis hangs, one request at a time is enough to find out whether it answers again.
    if ((!firstAttempt && !connection.isReady()) || (outages.down && this.#probing)) {
      return this.#fallBack(whenRedisFails, viaMemory, undefined);
    }
    const probing = outages.down;
    this.#probing ||= probing;
    let disconnected = false;
    try {
      // Only the first requests after start-up wait for the first connection attempt; later ones go straight on.
      const attempt = firstAttempt
        ? firstAttempt.then(() => {
            if (!connection.isReady()) {
              disconnected = true;
              throw new Error('Redis could not be reached at start-up');
            }
            return viaRedis();
          })
        : viaRedis();
      const result = await withTimeout(
        attempt,
        this.#timeoutMs,
        () => new Error(`Redis did not answer within ${this.#timeoutMs} ms`),
      );
      outages.reportSuccess();
      return result;
    } catch (error) {
      if (!disconnected) {
        outages.reportFailure(error);
        this.#forgetScripts();
      }
      return this.#fallBack(whenRedisFails, viaMemory, error);
    } finally {
      if (probing) {
        this.#probing = false;
      }
    }
  }

  async #fallBack<T>(
    whenRedisFails: WhenRedisFails,
    viaMemory: () => T | Promise<T>,
    cause: unknown,
  ): Promise<T> {
    if (whenRedisFails === 'policy' && !this.#passOnStoreError) {
      throw new RateLimitStoreUnavailableError(this.#retryAfterSeconds, cause);
    }
    return viaMemory();
  }

  /**
   * Makes rate-limit-redis load its scripts again on next use. A load that failed during an outage would
   * otherwise stay rejected, and a Redis that restarted has lost its script cache.
   */
  #forgetScripts(): void {
    this.#redis.incrementScriptSha = Promise.resolve(UNLOADED_SCRIPT_SHA);
    this.#redis.getScriptSha = Promise.resolve(UNLOADED_SCRIPT_SHA);
  }
}

/**
 * Creates an express-rate-limit store that keeps counters in Redis, so that every instance of a backend shares
 * one budget per client.
 *
 * @remarks
 * Built on rate-limit-redis over one ioredis client per `connection` (and timeout) per process, shared by every
 * store and closed when the last of them shuts down. Counters are kept under `prefix` and expire with their window.
 *
 * No request waits for Redis longer than `timeoutMs`. While Redis cannot answer (down, restarting, hanging, wrong
 * URL or password), the store counts in an in-memory store with the same window on this instance, or, with
 * `passOnStoreError: false`, rejects with {@link RateLimitStoreUnavailableError} (a 503). One warning is logged
 * when an outage starts and one when it ends. Counting moves back to Redis as soon as it answers, including after
 * a restart that emptied its script cache or a `FLUSHALL`. Never throws or rejects because Redis is down at
 * start-up.
 *
 * Call `shutdown()` on the store when its limiter is discarded; it gives back its share of the client.
 *
 * @param options - See {@link RedisRateLimitStoreOptions}.
 * @public
 */
export function createRedisRateLimitStore(options: RedisRateLimitStoreOptions): Store {
  const {
    connection,
    prefix,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    passOnStoreError = true,
    retryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS,
    logger,
  } = options;
  if (typeof prefix !== 'string' || prefix === '') {
    throw new RedisStoreOptionError(
      'prefix',
      `expected a non-empty string such as 'rl:plugin:catalog:', got ${JSON.stringify(prefix)}`,
    );
  }
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RedisStoreOptionError(
      'timeoutMs',
      `expected a positive number of milliseconds, got ${JSON.stringify(timeoutMs)}`,
    );
  }
  if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds <= 0) {
    throw new RedisStoreOptionError(
      'retryAfterSeconds',
      `expected a positive whole number of seconds, got ${JSON.stringify(retryAfterSeconds)}`,
    );
  }
  const lease = acquireRedisConnection({ connection, timeoutMs, logger });
  return new RedisRateLimitStore({ lease, prefix, timeoutMs, passOnStoreError, retryAfterSeconds });
}
