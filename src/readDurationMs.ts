import type { Config } from '@backstage/config';
import { readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { HttpRouterConfigError, describeValue } from './errors';

/**
 * The longest delay `setTimeout` and `setInterval` accept: 2^31-1 ms, about 24.8 days.
 *
 * @remarks
 * Node.js fires a timer with a longer delay after 1 ms instead (with a `TimeoutOverflowWarning`), so a duration
 * past it would not wait at all.
 *
 * @internal
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Options for {@link readDurationMs}.
 *
 * @internal
 */
export interface ReadDurationMsOptions {
  /** The key as error messages name it, such as `backend.rateLimit.store.timeout`. Defaults to `key`. */
  fullKey?: string;
  /** What an absent key reads as, in milliseconds. No default: required. */
  fallbackMs: number;
  /**
   * The longest duration accepted, in milliseconds. Raise it only for a duration that never reaches a timer.
   * Defaults to {@link MAX_TIMER_DELAY_MS}.
   */
  maxMs?: number;
}

/**
 * Reads a Backstage duration (`'10s'`, ISO `'PT10S'` or `{ seconds: 10 }`) at `key` of `config` as milliseconds.
 *
 * @remarks
 * Returns `fallbackMs` when the key is absent. Throws {@link HttpRouterConfigError} naming `fullKey` and the
 * value when the duration cannot be read, is not a positive finite number of milliseconds, or is longer than
 * `maxMs` (by default the longest delay a Node.js timer accepts).
 *
 * @param config - The config block that holds the key.
 * @param key - The key, relative to `config`.
 * @param options - The full key for messages, the fallback and the maximum.
 * @internal
 */
export function readDurationMs(
  config: Config,
  key: string,
  options: ReadDurationMsOptions,
): number {
  const { fullKey = key, fallbackMs, maxMs = MAX_TIMER_DELAY_MS } = options;
  if (!config.has(key)) {
    return fallbackMs;
  }
  let ms: number;
  try {
    ms = durationToMilliseconds(readDurationFromConfig(config, { key }));
  } catch (error) {
    throw new HttpRouterConfigError(
      fullKey,
      `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got ${describeValue(config.getOptional(key))}`,
      { cause: error },
    );
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new HttpRouterConfigError(
      fullKey,
      `expected a positive duration, got ${describeValue(config.getOptional(key))}`,
    );
  }
  if (ms > maxMs) {
    throw new HttpRouterConfigError(
      fullKey,
      `${describeMaximum(maxMs)}, got ${describeValue(config.getOptional(key))} (${ms} ms)`,
    );
  }
  return ms;
}

function describeMaximum(maxMs: number): string {
  if (maxMs === MAX_TIMER_DELAY_MS) {
    return `expected at most ${MAX_TIMER_DELAY_MS} ms (about 24 days), the longest a Node.js timer waits`;
  }
  return `expected at most ${maxMs} ms`;
}
