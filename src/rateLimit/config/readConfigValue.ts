import type { Config } from '@backstage/config';
import { HttpRouterConfigError, describeValue } from '../../errors';

/**
 * The error for a value at `key` of `block` that is not what `what` describes, naming `fullKey.key` and the value.
 *
 * @internal
 */
export function expectedError(
  block: Config,
  key: string,
  fullKey: string,
  what: string,
  cause?: unknown,
): HttpRouterConfigError {
  return new HttpRouterConfigError(
    `${fullKey}.${key}`,
    `expected ${what}, got ${describeValue(block.getOptional(key))}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Reads an optional boolean (`'true'` and `'false'` included, as Backstage config reads them).
 *
 * @internal
 */
export function readBoolean(block: Config, key: string, fullKey: string): boolean | undefined {
  try {
    return block.getOptionalBoolean(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, 'true or false', error);
  }
}

/**
 * Reads an optional nested block.
 *
 * @internal
 */
export function readObject(block: Config, key: string, fullKey: string): Config | undefined {
  try {
    return block.getOptionalConfig(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, 'an object', error);
  }
}

/**
 * Lists accepted values for a message: `'memory', 'redis'`.
 *
 * @internal
 */
export function quoteAll(values: readonly string[]): string {
  return values.map(value => `'${value}'`).join(', ');
}
