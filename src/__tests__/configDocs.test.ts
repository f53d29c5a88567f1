import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CONFIG_DOC_FILE,
  planConfigDocs,
  renderConfigDocs,
  replaceGeneratedBlock,
} from '../../scripts/configDocs';
import { readConfigKeys, readDefaultValue } from '../../scripts/readConfigKeys';

const keys = readConfigKeys(readFileSync(join(__dirname, '../../config.d.ts'), 'utf8'));

describe('the configuration reference generated from config.d.ts', () => {
  it('is up to date (run npm run docs:config)', () => {
    const { current, expected } = planConfigDocs();
    expect(current).toBe(expected);
  });

  it('notices a key edited by hand', () => {
    const reference = readFileSync(join(__dirname, '../..', CONFIG_DOC_FILE), 'utf8');
    const edited = reference.replace(
      /(`backend\.rateLimit\.incomingRequestLimit` \(number; default )1000/,
      '$1100',
    );
    expect(edited).not.toBe(reference);
    expect(replaceGeneratedBlock(edited, renderConfigDocs(keys))).toBe(reference);
  });

  it('states each default once, leaving out a last sentence that only repeats it', () => {
    const rendered = renderConfigDocs(keys);
    expect(rendered).toContain(
      '- `backend.rateLimit.skipSuccessfulRequests` (boolean; default false; per plugin): Do not count requests answered with a status below 400.\n',
    );
    expect(rendered).toMatch(
      /`backend\.rateLimit\.incomingRequestLimit` \(number; default 1000; per plugin\): .* Defaults to 1000; upstream's is 5\./,
    );
    expect(rendered).not.toMatch(/No default: required\./);
  });

  it('refuses a file without the markers, naming them', () => {
    expect(() => replaceGeneratedBlock('# Configuration\n', '')).toThrow(
      /markers of the generated config reference/,
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
    expect(renderConfigDocs(keys)).toMatch(
      /`backend\.rateLimit\.skipSuccesfulRequests` .*Deprecated:/,
    );
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
