import type { Options } from 'express-rate-limit';
import { RedisStore, type SendCommandClusterFn } from 'rate-limit-redis';

/**
 * A rate-limit-redis store that can be replaced by a fresh one after a failure.
 *
 * @internal
 */
export interface RenewableRedisStore {
  /** Remembers the limiter's options for every instance to come; sends nothing to Redis. */
  init(options: Options): void;
  /**
   * The instance to count with: the current one, or a promise of a fresh one that resolves once rate-limit-redis
   * has loaded its scripts through its own `init`.
   */
  acquire(): RedisStore | Promise<RedisStore>;
  /** Stops using `instance`: the next {@link RenewableRedisStore.acquire} starts a fresh one. */
  discard(instance: RedisStore | undefined): void;
}

/**
 * Wraps rate-limit-redis so that a failed script load never sticks.
 *
 * @remarks
 * rate-limit-redis keeps the promise of each `SCRIPT LOAD` (from `init`, or from its reload on `NOSCRIPT`) and
 * awaits it before every later count; once such a load has failed (Redis down at start-up, a connection lost
 * mid-load) every count fails with it, for good. It reloads on `NOSCRIPT` by itself, so `SCRIPT FLUSH` and a
 * restart are covered while loads succeed. Rather than touch its fields, the store discards an instance after
 * any failure and counts with a fresh one, set up through the public `init`, once Redis answers again.
 *
 * Upstream, rate-limit-redis could make this unnecessary by dropping a rejected script promise (so that the next
 * call loads again) instead of keeping it.
 *
 * @internal
 */
export function createRenewableRedisStore(options: {
  prefix: string;
  sendCommand: SendCommandClusterFn;
}): RenewableRedisStore {
  const { prefix, sendCommand } = options;
  let limiterOptions: Options | undefined;
  let current: RedisStore | undefined;
  let starting: Promise<RedisStore> | undefined;

  const start = (): Promise<RedisStore> => {
    if (!limiterOptions) {
      return Promise.reject(
        new Error('The Redis rate-limit store was used before init() was called'),
      );
    }
    const fresh = new RedisStore({ prefix, sendCommandCluster: sendCommand });
    const started: Promise<RedisStore> = fresh.init(limiterOptions).then(
      () => {
        if (starting === started) {
          starting = undefined;
          current = fresh;
        }
        return fresh;
      },
      (error: unknown) => {
        if (starting === started) {
          starting = undefined;
        }
        throw error;
      },
    );
    return started;
  };

  return {
    init(initOptions) {
      limiterOptions = initOptions;
    },
    acquire() {
      if (current) {
        return current;
      }
      starting ??= start();
      return starting;
    },
    discard(instance) {
      if (instance === undefined || instance === current) {
        current = undefined;
        starting = undefined;
      }
    },
  };
}
