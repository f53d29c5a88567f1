import { ConfigReader } from '@backstage/config';
import type { JsonValue } from '@backstage/types';
import { HttpRouterConfigError } from '../errors';
import { readDurationMs } from '../readDurationMs';

/** The `rateLimit` block of a backend config holding `window: value`. */
const rateLimitConfig = (value: JsonValue | undefined) =>
  new ConfigReader({ backend: { rateLimit: { window: value } } }).getConfig('backend.rateLimit');

const read = (value: JsonValue | undefined) =>
  readDurationMs(rateLimitConfig(value), 'window', {
    fullKey: 'backend.rateLimit.window',
    fallbackMs: 60_000,
  });

describe('readDurationMs', () => {
  it.each<[string, JsonValue | undefined]>([
    ['the key is absent', undefined],
    // Backstage config treats null as not set.
    ['the value is null', null],
  ])('returns the fallback when %s', (_what, value) => {
    expect(read(value)).toBe(60_000);
  });

  it('returns the fallback for a key of an empty config', () => {
    expect(readDurationMs(new ConfigReader({}), 'window', { fallbackMs: 1_234 })).toBe(1_234);
  });

  it.each<[JsonValue, number]>([
    ['10s', 10_000],
    ['PT10S', 10_000],
    [{ seconds: 10 }, 10_000],
    ['250ms', 250],
    ['PT0.25S', 250],
    ['1.5s', 1_500],
    ['1 minute', 60_000],
    [{ minutes: 1, seconds: 1 }, 61_000],
    [{ milliseconds: 1 }, 1],
  ])('reads %j as %i ms', (value, ms) => {
    expect(read(value)).toBe(ms);
  });

  it.each<[JsonValue, string]>([
    [
      'ten seconds',
      `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got "ten seconds"`,
    ],
    ['-5s', `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got "-5s"`],
    ['', `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got ""`],
    [42, `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got 42`],
    [true, `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got true`],
    [[], `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got []`],
    [{}, `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got {}`],
    [
      { fortnights: 2 },
      `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got {"fortnights":2}`,
    ],
    [
      { seconds: 'x' },
      `expected a duration such as '10s', 'PT10S' or { seconds: 10 }, got {"seconds":"x"}`,
    ],
    ['0s', 'expected a positive duration, got "0s"'],
    ['PT0S', 'expected a positive duration, got "PT0S"'],
    [{ seconds: 0 }, 'expected a positive duration, got {"seconds":0}'],
    [{ seconds: -5 }, 'expected a positive duration, got {"seconds":-5}'],
  ])('rejects %j naming the full key and the value', (value, message) => {
    let thrown: unknown;
    try {
      read(value);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(HttpRouterConfigError);
    expect(thrown).toMatchObject({
      code: 'ERR_HTTP_ROUTER_CONFIG',
      key: 'backend.rateLimit.window',
      message: `Invalid config at 'backend.rateLimit.window': ${message}`,
    });
  });

  it('keeps the reader error as the cause of an unreadable duration', () => {
    expect(() => read('ten seconds')).toThrow(
      expect.objectContaining({ cause: expect.any(Error) }),
    );
  });

  it('names the key itself when no full key is given', () => {
    const config = new ConfigReader({ timeout: 'soon' });

    expect(() => readDurationMs(config, 'timeout', { fallbackMs: 1 })).toThrow(
      expect.objectContaining({
        key: 'timeout',
        message: expect.stringMatching(/^Invalid config at 'timeout': .*got "soon"$/),
      }),
    );
  });
});
