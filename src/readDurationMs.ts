import type { Config } from '@backstage/config';
import { readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import { HttpRouterConfigError, describeValue } from './errors';

/**
 * Reads a Backstage duration (`'10s'`, ISO `'PT10S'` or `{ seconds: 10 }`) at `key` of `config` as milliseconds.
 *
 * @remarks
 * Returns `fallbackMs` when the key is absent. Throws {@link HttpRouterConfigError} naming `fullKey` and the
 * value when the duration cannot be read or is not a positive finite number of milliseconds.
 *
 * @internal
 */
export function readDurationMs(
  config: Config,
  key: string,
  options: { fullKey?: string; fallbackMs: number },
): number {
  const fullKey = options.fullKey ?? key;
  if (!config.has(key)) {
    return options.fallbackMs;
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
  return ms;
}
