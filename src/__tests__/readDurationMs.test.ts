import { ConfigReader } from '@backstage/config';
import type { JsonValue } from '@backstage/types';
import { HttpRouterConfigError } from '../errors';
import { MAX_TIMER_DELAY_MS, readDurationMs } from '../readDurationMs';

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

  // Node.js fires a timer with a longer delay after 1 ms, so such a duration would not wait.
  it.each<[JsonValue, string]>([
    ['30d', '"30d" (2592000000 ms)'],
    ['P30D', '"P30D" (2592000000 ms)'],
    [{ days: 25 }, '{"days":25} (2160000000 ms)'],
    [{ weeks: 4 }, '{"weeks":4} (2419200000 ms)'],
    [{ milliseconds: 2 ** 31 }, '{"milliseconds":2147483648} (2147483648 ms)'],
    ['1y', '"1y" (31536000000 ms)'],
  ])('rejects %j, longer than a timer can wait, naming the maximum', (value, got) => {
    expect(() => read(value)).toThrow(
      expect.objectContaining({
        name: 'HttpRouterConfigError',
        code: 'ERR_HTTP_ROUTER_CONFIG',
        key: 'backend.rateLimit.window',
        message: `Invalid config at 'backend.rateLimit.window': expected at most 2147483647 ms (about 24 days), the longest a Node.js timer waits, got ${got}`,
      }),
    );
  });

  it.each<[JsonValue, number]>([
    [{ milliseconds: 2 ** 31 - 1 }, MAX_TIMER_DELAY_MS],
    ['24d', 24 * 24 * 3600 * 1000],
  ])('accepts %j, within the longest timer delay', (value, ms) => {
    expect(read(value)).toBe(ms);
  });

  it('takes another maximum, named in the message, for a duration that never reaches a timer', () => {
    const config = rateLimitConfig('30d');
    const readWithMax = (maxMs: number) =>
      readDurationMs(config, 'window', {
        fullKey: 'backend.rateLimit.window',
        fallbackMs: 1,
        maxMs,
      });

    expect(readWithMax(Infinity)).toBe(2_592_000_000);
    expect(() => readWithMax(1_000)).toThrow(
      expect.objectContaining({
        code: 'ERR_HTTP_ROUTER_CONFIG',
        message:
          'Invalid config at \'backend.rateLimit.window\': expected at most 1000 ms, got "30d" (2592000000 ms)',
      }),
    );
  });

  it('holds a key named only by itself to the timer maximum too', () => {
    const config = new ConfigReader({ startupRequestPauseTimeout: { days: 30 } });

    expect(() => readDurationMs(config, 'startupRequestPauseTimeout', { fallbackMs: 1 })).toThrow(
      expect.objectContaining({
        code: 'ERR_HTTP_ROUTER_CONFIG',
        key: 'startupRequestPauseTimeout',
      }),
    );
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
