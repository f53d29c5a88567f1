import { MemoryStore, type Options, type Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { RateLimitStoreUnavailableError } from '../errors';
import type { RateLimitMetrics } from '../metrics';
import { MAX_TIMER_DELAY_MS } from '../readDurationMs';
import { redisWaitFailure } from './breaker';
import type { RedisConnections } from './connection';

/** Options for {@link createRedisStore}; stores with the same `connection` and `timeoutMs` share a client. */
export interface RedisStoreOptions {
  connections: RedisConnections;
  /** A Redis URL, or a Redis Cluster's node URLs. */
  connection: string | string[];
  /** Prepended to every key. */
  prefix: string;
  /** The longest one store operation waits for Redis. */
  timeoutMs: number;
  /** While Redis cannot count: `true` counts in memory on this instance, `false` answers 503. */
  passOnStoreError: boolean;
  retryAfterSeconds: number;
  /** Records how long each count waited for Redis. Defaults to none. */
  metrics?: RateLimitMetrics;
}

type Operation = 'get' | 'increment' | 'decrement' | 'resetKey';

const ignore = () => undefined;

/**
 * Creates an express-rate-limit store counting in Redis through rate-limit-redis: each operation waits `timeoutMs`
 * at most, then the breaker sends the others to the fallback (a `MemoryStore`, or a 503 with `passOnStoreError: false`).
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const { prefix, passOnStoreError, retryAfterSeconds } = options;
  const memory = new MemoryStore();
  const lease = options.connections.acquire(options);
  const { breaker, firstAttempt, isReady } = lease;
  let limiter: Options | undefined;
  /** Whether rate-limit-redis has its scripts' SHA1s: `undefined` until it loads them, again after a failed load. */
  let scripts: Promise<void> | 'loaded' | undefined;
  const redis = new RedisStore({
    prefix,
    sendCommandCluster: details => {
      const reply = lease.sendCommand(details);
      if (details.command[0] !== 'SCRIPT') return reply;
      // rate-limit-redis keeps a failed load and fails every later count with it; dropping it there would remove this.
      return reply.catch((error: unknown) => {
        scripts = undefined;
        throw error;
      });
    },
  });
  const send = (name: Operation, key: string): Promise<unknown> => {
    if (scripts === 'loaded') return redis[name](key);
    // A programming error, not an outage: it must not open the breaker as one.
    if (!limiter) throw new Error('the Redis rate-limit store was used before init() was called');
    if (!scripts) {
      const loading = redis.init(limiter).then(
        () => {
          if (scripts === loading) scripts = 'loaded';
        },
        (error: unknown) => {
          if (scripts === loading) scripts = undefined;
          throw error;
        },
      );
      scripts = loading;
    }
    return scripts.then((): Promise<unknown> => redis[name](key));
  };

  const fallBack = async (name: Operation, key: string, cause: unknown) => {
    // Taking back a hit only makes a budget larger, so it never needs to fail closed.
    if (name !== 'decrement' && !passOnStoreError) {
      throw new RateLimitStoreUnavailableError(retryAfterSeconds, cause);
    }
    // The memory store cannot reset in Redis; its own reset ran already.
    return name === 'resetKey' ? undefined : memory[name](key);
  };

  const run = (name: Operation, key: string): Promise<never> => {
    if (breaker.isOpen()) {
      // A read of the same key reaches the node that owns it in a cluster, and counts nothing.
      breaker.probe(() => send('get', key));
      return fallBack(name, key, undefined) as Promise<never>;
    }
    const connecting = firstAttempt();
    // Only the first requests after start-up wait for the first connection attempt.
    const sent = connecting
      ? connecting.then(() => {
          if (!isReady()) throw new Error('Redis could not be reached at start-up');
          return send(name, key);
        })
      : send(name, key);
    // Only a count goes on the histogram: its request waits for it.
    const metrics = name === 'increment' ? options.metrics : undefined;
    const startedAt = metrics ? performance.now() : 0;
    return breaker.wait(sent).then(
      result => {
        metrics?.recordStoreWait(performance.now() - startedAt);
        return result;
      },
      (error: unknown) => {
        metrics?.recordStoreWait(performance.now() - startedAt, redisWaitFailure(error));
        breaker.trip(error);
        if (name === 'increment') {
          // Counted in memory (or refused): a hit that reaches a hung Redis later would count twice.
          sent.then(() => redis.decrement(key)).catch(ignore);
        }
        return fallBack(name, key, error);
      },
    ) as Promise<never>;
  };

  return {
    // Counters live in Redis, so two instances with one prefix share them.
    localKeys: false,
    prefix,
    init(options) {
      // Past 2^31-1 ms setInterval fires every millisecond; Redis has no such limit, so the fallback forgets early.
      memory.init({ ...options, windowMs: Math.min(options.windowMs, MAX_TIMER_DELAY_MS) });
      // Nothing is sent yet: the scripts load on first use, when Redis may be up.
      limiter = options;
      scripts = undefined;
    },
    get: key => run('get', key),
    increment: key => run('increment', key),
    decrement: key => run('decrement', key),
    async resetKey(key) {
      await memory.resetKey(key);
      await run('resetKey', key);
    },
    shutdown() {
      memory.shutdown();
      lease.release();
    },
  };
}
