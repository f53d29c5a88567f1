import { MemoryStore, type Store } from 'express-rate-limit';
import { RateLimitStoreUnavailableError } from '../errors';
import type { RateLimitMetrics } from '../metrics';
import { MAX_TIMER_DELAY_MS } from '../readDurationMs';
import { redisWaitFailure } from './breaker';
import type { RedisConnections } from './connection';

// The keys and values of rate-limit-redis, so that instances of either count together.
const INCREMENT_LUA = `local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
  return { 1, tonumber(ARGV[1]) }
end
return { redis.call('INCR', KEYS[1]), ttl }`;
const GET_LUA = `return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }`;

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

/** Reads a script's `{ hits, ttl }`; no hits is no entry. */
function toInfo([hits, ttl]: [number | string | null, number]) {
  return hits === null ? undefined : { totalHits: +hits, resetTime: new Date(Date.now() + ttl) };
}

/**
 * Creates an express-rate-limit store counting in Redis, one round trip per operation: each waits `timeoutMs` at
 * most, then the breaker sends the others to the fallback (a `MemoryStore`, or a 503 with `passOnStoreError: false`).
 */
export function createRedisStore(options: RedisStoreOptions): Store {
  const { prefix, passOnStoreError, retryAfterSeconds } = options;
  const memory = new MemoryStore();
  const lease = options.connections.acquire(options);
  const { breaker, firstAttempt, isReady } = lease;
  const [increment, get] = [lease.script(INCREMENT_LUA), lease.script(GET_LUA)];
  let windowMs = '0';
  const send = (name: Operation, key: string): Promise<unknown> => {
    const redisKey = prefix + key;
    if (name === 'increment') return increment(redisKey, windowMs).then(toInfo as never);
    if (name === 'get') return get(redisKey).then(toInfo as never);
    const command = [name === 'decrement' ? 'DECR' : 'DEL', redisKey];
    return lease.sendCommand({ key: redisKey, isReadOnly: false, command }).then(ignore);
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
          sent.then(() => send('decrement', key)).catch(ignore);
        }
        return fallBack(name, key, error);
      },
    ) as Promise<never>;
  };

  return {
    // Counters live in Redis, so two instances with one prefix share them.
    localKeys: false,
    prefix,
    init(limiter) {
      // Past 2^31-1 ms setInterval fires every millisecond; Redis has no such limit, so the fallback forgets early.
      memory.init({ ...limiter, windowMs: Math.min(limiter.windowMs, MAX_TIMER_DELAY_MS) });
      windowMs = String(limiter.windowMs);
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
