import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfigKeys, type ConfigKeyDoc } from './readConfigKeys';

/**
 * `npm run docs:config`: writes the configuration tables of the README and of docs/configuration.md from the
 * TSDoc of config.d.ts, the one place where keys are documented. `--check` writes nothing and exits with 1 when a
 * table is stale; src/__tests__/configDocs.test.ts runs the same check.
 */

const ROOT = join(__dirname, '..');

/** Which table goes where: the short one (key and default) in the README, the full one in the docs. */
export const CONFIG_DOC_TARGETS = [
  { file: 'README.md', style: 'short' },
  { file: 'docs/configuration.md', style: 'full' },
] as const;

type Style = (typeof CONFIG_DOC_TARGETS)[number]['style'];

const END_MARKER = '<!-- end of generated config table -->';

function startMarker(style: Style): string {
  return `<!-- ${style} config table, generated from config.d.ts by \`npm run docs:config\`: edit config.d.ts, not this table -->`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** A markdown table aligned as prettier aligns it, so that `prettier --check` and this generator agree. */
function alignTable(header: string[], rows: string[][]): string {
  const cells = [header, ...rows].map(row => row.map(cell));
  const widths = header.map((_, column) =>
    Math.max(3, ...cells.map(row => [...row[column]].length)),
  );
  const line = (row: string[]) =>
    `| ${row.map((text, column) => text.padEnd(widths[column] + text.length - [...text].length)).join(' | ')} |`;
  const [head, ...body] = cells;
  return [line(head), line(widths.map(width => '-'.repeat(width))), ...body.map(line)].join('\n');
}

/**
 * Renders the keys as the short table (key and default, deprecated keys left out) or the full one (type, default,
 * whether plugin blocks take it, then each key's documentation).
 *
 * @internal
 */
export function renderConfigDocs(keys: ConfigKeyDoc[], style: Style): string {
  if (style === 'short') {
    const current = keys.filter(key => !key.deprecated);
    return alignTable(
      ['key', 'default'],
      current.map(key => [`\`${key.key}\``, key.defaultValue]),
    );
  }
  const table = alignTable(
    ['key', 'type', 'default', 'per plugin'],
    keys.map(key => [`\`${key.key}\``, key.type, key.defaultValue, key.perPlugin ? 'yes' : '']),
  );
  const list = keys.map(key => `- \`${key.key}\`: ${key.description}`);
  return `${table}\n\n${list.join('\n')}`;
}

/**
 * Replaces the generated block of one file's text, between its start and end markers.
 *
 * @internal
 */
export function replaceGeneratedBlock(text: string, style: Style, generated: string): string {
  const start = text.indexOf(startMarker(style));
  const end = text.indexOf(END_MARKER, start);
  if (start === -1 || end === -1) {
    throw new Error(
      `expected the markers of the ${style} config table, '${startMarker(style)}' and '${END_MARKER}'`,
    );
  }
  return `${text.slice(0, start)}${startMarker(style)}\n\n${generated}\n\n${text.slice(end)}`;
}

/**
 * Each target file as it is, and as the generator would write it.
 *
 * @internal
 */
export function planConfigDocs(root = ROOT): { file: string; current: string; expected: string }[] {
  const keys = readConfigKeys(readFileSync(join(root, 'config.d.ts'), 'utf8'));
  return CONFIG_DOC_TARGETS.map(({ file, style }) => {
    const current = readFileSync(join(root, file), 'utf8');
    return {
      file,
      current,
      expected: replaceGeneratedBlock(current, style, renderConfigDocs(keys, style)),
    };
  });
}

if (require.main === module) {
  const stale = planConfigDocs().filter(({ current, expected }) => current !== expected);
  if (process.argv.includes('--check')) {
    stale.forEach(({ file }) =>
      console.error(`${file}: config table is stale; run npm run docs:config`),
    );
    process.exitCode = stale.length > 0 ? 1 : 0;
  } else {
    stale.forEach(({ file, expected }) => writeFileSync(join(ROOT, file), expected));
    console.log(
      stale.length > 0 ? `updated ${stale.map(({ file }) => file).join(', ')}` : 'up to date',
    );
  }
}
