import { type Config, readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { HttpRouterConfigError, describeValue } from './errors';

/** The longest delay a Node.js timer accepts; a longer one fires after 1 ms instead. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Options for {@link readDurationMs}. */
export interface ReadDurationMsOptions {
  /** The key as error messages name it. Defaults to `key`. */
  fullKey?: string;
  /** What an absent key reads as, in milliseconds. */
  fallbackMs: number;
  /** The longest duration accepted; raise it only where no timer waits. Defaults to {@link MAX_TIMER_DELAY_MS}. */
  maxMs?: number;
}

/**
 * Reads a Backstage duration (`'10s'`, `'PT10S'`, `{ seconds: 10 }`) as milliseconds, or throws an
 * {@link HttpRouterConfigError} naming `fullKey` for one that is unreadable, not positive or above `maxMs`.
 */
export function readDurationMs(config: Config, key: string, options: ReadDurationMsOptions) {
  const { fullKey = key, fallbackMs, maxMs = MAX_TIMER_DELAY_MS } = options;
  if (!config.has(key)) return fallbackMs;
  const got = describeValue(config.getOptional(key));
  const fail = (expected: string, cause?: unknown, shown = got) =>
    new HttpRouterConfigError(fullKey, `expected ${expected}, got ${shown}`, { cause });
  let ms: number;
  try {
    ms = durationToMilliseconds(readDurationFromConfig(config, { key }));
  } catch (error) {
    throw fail("a duration such as '10s', 'PT10S' or { seconds: 10 }", error);
  }
  if (!Number.isFinite(ms) || ms <= 0) throw fail('a positive duration');
  const timer =
    maxMs === MAX_TIMER_DELAY_MS ? ' (about 24 days), the longest a Node.js timer waits' : '';
  if (ms > maxMs) throw fail(`at most ${maxMs} ms${timer}`, undefined, `${got} (${ms} ms)`);
  return ms;
}
