import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planConfigDocs, renderConfigDocs, replaceGeneratedBlock } from '../../scripts/configDocs';
import { readConfigKeys, readDefaultValue } from '../../scripts/readConfigKeys';

const keys = readConfigKeys(readFileSync(join(__dirname, '../../config.d.ts'), 'utf8'));

describe('the configuration tables generated from config.d.ts', () => {
  it.each(planConfigDocs().map(plan => [plan.file, plan] as const))(
    '%s is up to date (run npm run docs:config)',
    (_file, { current, expected }) => {
      expect(current).toBe(expected);
    },
  );

  it('notices a table edited by hand', () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const edited = readme.replace(
      /(\| `backend\.rateLimit\.incomingRequestLimit` +\| )1000/,
      '$1100 ',
    );
    expect(edited).not.toBe(readme);
    const regenerated = replaceGeneratedBlock(edited, 'short', renderConfigDocs(keys, 'short'));
    expect(regenerated).toBe(readme);
  });

  it('refuses a file without the markers, naming them', () => {
    expect(() => replaceGeneratedBlock('# README\n', 'full', '')).toThrow(
      /markers of the full config table/,
    );
  });
});

describe('readConfigKeys', () => {
  const byKey = new Map(keys.map(key => [key.key, key]));

  it.each([
    ['backend.rateLimit', '`true` or object', 'off', false],
    ['backend.rateLimit.window', 'duration', 'one minute', true],
    ['backend.rateLimit.incomingRequestLimit', 'number', '1000', true],
    ['backend.rateLimit.userRequestLimit', "number or `'unlimited'`", 'none', true],
    ['backend.rateLimit.ipAllowList', 'list of strings', "`['127.0.0.1', '::1']`", true],
    ['backend.rateLimit.store', 'object', "`{ type: 'memory' }`", true],
    ['backend.rateLimit.store.type', "`'memory'` or `'redis'`", '–', true],
    ['backend.rateLimit.store.connection', 'string', 'required', true],
    ['backend.rateLimit.store.timeout', 'duration', '100 milliseconds', true],
    ['backend.rateLimit.global', 'boolean', 'true', false],
    ['backend.rateLimit.plugin.<pluginId>', 'object', 'none', false],
    ['backend.trustProxy', 'boolean, number, string or list of strings', 'false', false],
    ['backend.lifecycle.startupRequestPauseTimeout', 'duration', '5 seconds', false],
  ])('reads %s as %s, default %s, per plugin: %s', (key, type, defaultValue, perPlugin) => {
    expect(byKey.get(key)).toMatchObject({ type, defaultValue, perPlugin });
  });

  it('merges the members of a union into one row, and marks deprecated keys', () => {
    expect(byKey.get('backend.rateLimit.store.type')?.description).toMatch(
      /^`'memory'`: Count in the memory .* `'redis'`: Count in Redis/,
    );
    expect(byKey.get('backend.rateLimit.skipSuccesfulRequests')?.deprecated).toBe(true);
    expect(renderConfigDocs(keys, 'short')).not.toContain('skipSuccesfulRequests');
  });
});

describe('readDefaultValue', () => {
  it.each([
    ['Defaults to 1000, which a busy user stays under.', '1000'],
    ['Defaults to none: users are counted per address.', 'none'],
    ["Defaults to `['127.0.0.1', '::1']`.", "`['127.0.0.1', '::1']`"],
    ['Where requests are counted. Defaults to `{ type: "memory" }`.', '`{ type: "memory" }`'],
    ['A URL. No default: required. A string.', 'required'],
    ['Rate limiting. Leaving it out turns rate limiting off.', 'off'],
    ['Do not count requests answered with a status below 400.', '–'],
  ])('reads %j as %j', (text, expected) => {
    expect(readDefaultValue(text)).toBe(expected);
  });
});
