import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigKeys, type ConfigKeyDoc } from './readConfigKeys';

/**
 * `npm run docs:config`: writes the key list of docs/configuration.md from the TSDoc of config.d.ts, the one place
 * where keys are documented. `--check` writes nothing and exits with 1 when the list is stale;
 * src/__tests__/configDocs.test.ts runs the same check.
 */

const ROOT = join(__dirname, '..');

/** The one file that holds the generated configuration reference. */
export const CONFIG_DOC_FILE = 'docs/configuration.md';

const START_MARKER =
  '<!-- generated from config.d.ts by `npm run docs:config`: edit config.d.ts, not this list -->';
const END_MARKER = '<!-- end of generated config reference -->';

/**
 * Renders each key as one list item: the key, its type, default and whether plugin blocks take it, then its
 * documentation, less a last sentence that only repeats the default.
 *
 * @internal
 */
export function renderConfigDocs(keys: ConfigKeyDoc[]): string {
  return keys
    .map(key => {
      const facts = [
        key.type,
        key.defaultValue === '–' ? undefined : `default ${key.defaultValue}`,
        key.perPlugin ? 'per plugin' : undefined,
      ].filter(Boolean);
      const repeated = [`Defaults to ${key.defaultValue}.`, 'No default: required.'];
      const last = repeated.find(sentence => key.description.endsWith(sentence)) ?? '';
      const description = key.description.slice(0, key.description.length - last.length).trim();
      return `- \`${key.key}\` (${facts.join('; ')})${description ? `: ${description}` : ''}`;
    })
    .join('\n');
}

/**
 * Replaces the generated block of the reference's text, between its start and end markers.
 *
 * @internal
 */
export function replaceGeneratedBlock(text: string, generated: string): string {
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER, start);
  if (start === -1 || end === -1) {
    throw new Error(
      `expected the markers of the generated config reference, '${START_MARKER}' and '${END_MARKER}'`,
    );
  }
  return `${text.slice(0, start)}${START_MARKER}\n\n${generated}\n\n${text.slice(end)}`;
}

/**
 * The reference as it is, and as the generator would write it.
 *
 * @internal
 */
export function planConfigDocs(root = ROOT): { file: string; current: string; expected: string } {
  const keys = readConfigKeys(readFileSync(join(root, 'config.d.ts'), 'utf8'));
  const current = readFileSync(join(root, CONFIG_DOC_FILE), 'utf8');
  return {
    file: CONFIG_DOC_FILE,
    current,
    expected: replaceGeneratedBlock(current, renderConfigDocs(keys)),
  };
}

if (require.main === module) {
  const { file, current, expected } = planConfigDocs();
  const stale = current !== expected;
  if (process.argv.includes('--check')) {
    if (stale) {
      console.error(`${file}: config reference is stale; run npm run docs:config`);
    }
    process.exitCode = stale ? 1 : 0;
  } else {
    if (stale) {
      writeFileSync(join(ROOT, file), expected);
    }
    console.log(stale ? `updated ${file}` : 'up to date');
  }
}
