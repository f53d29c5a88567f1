import type { BenchOptions } from './readBenchOptions';
import type { Scenario, TargetResult, VariantResult } from './types';

/** Where and when a run happened, for the report header. */
export interface RunInfo {
  date: string;
  node: string;
  cpus: string;
  options: BenchOptions;
}

const STATUS_MARK: Record<TargetResult['status'], string> = {
  holds: '✅ holds',
  misses: '❌ misses',
  'not available': '⚪ not available',
};

function formatNumber(value: number | undefined, digits = 0): string {
  return value === undefined
    ? '–'
    : value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * One scenario as a markdown table: a row per variant, the first variant being the baseline of the ratios.
 *
 * @param columns - the column titles after the label, given the baseline's label.
 * @param cells - a measured variant's cells, given the baseline.
 */
function formatScenarioTable(
  scenario: Scenario,
  results: readonly VariantResult[],
  columns: (baselineLabel: string) => string[],
  cells: (row: VariantResult, baseline: VariantResult | undefined) => string[],
): string {
  const rows = scenario.variants.map(variant =>
    results.find(r => r.scenarioId === scenario.id && r.variantId === variant.id),
  );
  const baseline = rows[0];
  const titles = columns(baseline?.label ?? 'first row');
  const lines = [
    `### ${scenario.title}`,
    '',
    `| | ${titles.join(' | ')} |`,
    `|---|${titles.map((_, i) => (i === titles.length - 1 ? '---' : '---:')).join('|')}|`,
  ];
  for (const row of rows) {
    if (!row) {
      continue;
    }
    if (row.unavailable) {
      const empty = ' |'.repeat(titles.length - 2);
      lines.push(
        `| ${row.label} | not available |${empty} ${row.unavailable.replace(/\|/g, '\\|')} |`,
      );
      continue;
    }
    lines.push(`| ${row.label} | ${cells(row, baseline).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** `baseline / value` as a ratio cell, or a dash when either is missing. */
function ratioCell(
  baseline: number | undefined,
  value: number | undefined,
  digits: number,
): string {
  return baseline && value ? `${(baseline / value).toFixed(digits)}×` : '–';
}

function formatInstructionScenario(scenario: Scenario, results: readonly VariantResult[]): string {
  return formatScenarioTable(
    scenario,
    results,
    label => [
      'median instructions/request',
      `× ${label} (by instructions)`,
      'lowest round',
      '× by lowest rounds',
      'instructions/request per round',
    ],
    (row, baseline) => [
      formatNumber(row.medianInstructionsPerRequest),
      ratioCell(baseline?.medianInstructionsPerRequest, row.medianInstructionsPerRequest, 3),
      formatNumber(row.lowestInstructionsPerRequest),
      ratioCell(baseline?.lowestInstructionsPerRequest, row.lowestInstructionsPerRequest, 3),
      row.rounds.map(round => formatNumber(round.instructionsPerRequest)).join(', '),
    ],
  );
}

function formatScenario(scenario: Scenario, results: readonly VariantResult[]): string {
  return formatScenarioTable(
    scenario,
    results,
    label => [
      'median req/s',
      'median p99 (ms)',
      `× ${label}`,
      'server CPU µs/request',
      '× by CPU',
      'req/s per round',
    ],
    (row, baseline) => [
      formatNumber(row.medianReqPerSec),
      formatNumber(row.medianP99Ms, 1),
      // req/s: more is faster, so the ratio is the row's over the baseline's.
      ratioCell(row.medianReqPerSec, baseline?.medianReqPerSec, 2),
      formatNumber(row.medianCpuUsPerRequest, 1),
      ratioCell(baseline?.medianCpuUsPerRequest, row.medianCpuUsPerRequest, 2),
      row.rounds.map(round => formatNumber(round.reqPerSec)).join(', '),
    ],
  );
}

/**
 * The line for the project README that points at the latest run.
 *
 * @param info - when and where the run happened.
 */
export function formatReadmeLine(info: RunInfo): string {
  return info.options.method === 'instructions'
    ? `- \`npm run bench:instructions\` — last run ${info.date} (Node ${info.node}, ${info.cpus}); results in [bench/instructions.md](bench/instructions.md).`
    : `- \`npm run bench\` — last run ${info.date} (Node ${info.node}, ${info.cpus}); results in [bench/results.md](bench/results.md).`;
}

/**
 * Renders a run as markdown: settings, targets, then one table per scenario.
 *
 * @param info - when and where the run happened.
 * @param scenarios - the scenarios that ran, in order.
 * @param results - every variant's numbers.
 * @param targets - how the run did against each target.
 */
export function formatResults(
  info: RunInfo,
  scenarios: readonly Scenario[],
  results: readonly VariantResult[],
  targets: readonly TargetResult[],
): string {
  const { durationS, warmupS, rounds, connections } = info.options;
  if (info.options.method === 'instructions') {
    return formatInstructionResults(info, scenarios, results, targets);
  }
  const sections = [
    '# `npm run bench` results',
    '',
    `${info.date} · Node ${info.node} · ${info.cpus} · ${rounds} interleaved rounds of ${durationS} s ` +
      `after ${warmupS} s warm-up · ${connections} connections · servers in child processes, autocannon in the parent.`,
    '',
    '## Targets (plugin stack)',
    '',
    'Targets are judged on req/s, except those marked "judged by CPU". "By CPU" gives the same ratio from the',
    "server's CPU time per request: where the two disagree, something else was taking the server's core.",
    '',
    '| target | ratio | by CPU | |',
    '|---|---:|---:|---|',
    ...targets.map(t => formatTargetRow(t, [t.ratio, t.cpuRatio], 2)),
  ];
  for (const stack of ['full', 'plugin']) {
    const group = scenarios.filter(s => s.id.startsWith(`${stack}/`));
    if (group.length === 0) {
      continue;
    }
    sections.push(
      '',
      stack === 'full'
        ? '## Full backend (upstream production root router in front)'
        : '## Plugin stack (plugin router on a plain express app)',
    );
    for (const scenario of group) {
      sections.push('', formatScenario(scenario, results));
    }
  }
  return `${sections.join('\n')}\n`;
}

/** A target's row: its description, the given ratios (`–` where unknown), and whether it holds. */
function formatTargetRow(
  t: TargetResult,
  ratios: Array<number | undefined>,
  digits: number,
): string {
  const cells = ratios.map(ratio => (ratio === undefined ? '–' : `${ratio.toFixed(digits)}×`));
  const status = `${STATUS_MARK[t.status]}${t.reason ? `: ${t.reason.replace(/\|/g, '\\|')}` : ''}`;
  return `| ${t.description} | ${cells.join(' | ')} | ${status} |`;
}

function formatInstructionResults(
  info: RunInfo,
  scenarios: readonly Scenario[],
  results: readonly VariantResult[],
  targets: readonly TargetResult[],
): string {
  const { rounds, connections, instructionRequests, instructionWarmup } = info.options;
  const sections = [
    '# `npm run bench:instructions` results',
    '',
    `${info.date} · Node ${info.node} · ${info.cpus} · valgrind callgrind · per variant ${instructionWarmup.toLocaleString('en')} ` +
      `requests uncounted, counted rounds thrown away until the count settles, then ${rounds} interleaved rounds of ` +
      `${instructionRequests.toLocaleString('en')} requests · ${connections} connections.`,
    '',
    'Instructions that the server child executes per response, all its threads included (JIT compiler,',
    'garbage collector). Unlike req/s and CPU time, the count does not depend on what else the machine is',
    'doing; it does not see cache misses or branch mispredictions, so it is a steady proxy for time, not time.',
    '',
    '## Targets (plugin stack), by instructions',
    '',
    "A ratio is the denominator's instructions per request over the numerator's: the req/s ratio if time",
    'followed instructions. Targets are judged on medians. "By lowest rounds" compares the lowest round of',
    "each variant: its requests' own work without a full garbage collection landing in the round, which",
    'depends on the heap of the whole child (it hosts every server of its side).',
    '',
    '| target | ratio (medians) | by lowest rounds | |',
    '|---|---:|---:|---|',
    ...targets.map(t => formatTargetRow(t, [t.ratio, t.lowestRatio], 3)),
    '',
    '## Plugin stack (plugin router on a plain express app)',
  ];
  for (const scenario of scenarios) {
    sections.push('', formatInstructionScenario(scenario, results));
  }
  return `${sections.join('\n')}\n`;
}
