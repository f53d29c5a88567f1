import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScenarios } from './createScenarios';
import { compileBench, createServerPool, PROFILE_DIR, type ServerPool } from './createServerPool';
import { evaluateTargets } from './evaluateTargets';
import { formatReadmeLine, formatResults, type RunInfo } from './formatResults';
import { countRound, settleVariant } from './measureInstructions';
import { probeVariant } from './probeVariant';
import { readBenchOptions, type BenchOptions } from './readBenchOptions';
import { runAutocannon } from './runAutocannon';
import { startRedisServer, type BenchRedis } from './startRedisServer';
import type { RoundResult, Scenario, Variant, VariantResult } from './types';

const MAX_REASON_LENGTH = 300;

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) {
    return undefined;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function log(message: string) {
  process.stderr.write(`${message}\n`);
}

/** Statuses a round got that the variant does not expect, as `500×3, 429×1`. */
function unexpectedStatuses(variant: Variant, round: RoundResult): string | undefined {
  const wrong = Object.entries(round.statuses).filter(
    ([status]) => !variant.expectStatus.includes(Number(status)),
  );
  const parts = wrong.map(([status, count]) => `${status}×${count}`);
  if (round.errors > 0) {
    parts.push(`${round.errors} connection errors`);
  }
  return parts.length ? `unexpected responses: ${parts.join(', ')}` : undefined;
}

/** An error's innermost message on one line, short enough for a table cell. */
function summarizeError(error: unknown): string {
  const full = String((error as Error)?.message ?? error)
    .replace(/\s+/g, ' ')
    .trim();
  // The innermost error says what went wrong; the wrappers around it only say where.
  const innermost = [...full.matchAll(/\b\w*Error: /g)].pop();
  const text = (innermost?.index ? full.slice(innermost.index) : full).replace(/ at \S+ \(.*$/, '');
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH - 1)}…` : text;
}

interface Live {
  variant: Variant;
  result: VariantResult;
  port?: number;
}

/** Scenarios the instructions method leaves out unless BENCH_SCENARIOS names them: slow under valgrind. */
const SLOW_UNDER_VALGRIND = ['full/', 'plugin/long-path'];

/** A `BENCH_SCENARIOS` entry names one scenario id exactly, or, ending in `*`, every id it starts with. */
const matchesScenario = (id: string, filter: string) =>
  filter.endsWith('*') ? id.startsWith(filter.slice(0, -1)) : id === filter;

/** How one round of one variant is measured: req/s under load, or counted instructions. */
type MeasureRound = (entry: Live) => Promise<RoundResult>;

function throughputRound(options: BenchOptions, pool: ServerPool): MeasureRound {
  return async ({ variant, port }) => {
    // The child hosts only idle servers besides the one under load, so its CPU time is this run's cost.
    const cpuBefore = await pool.cpuUs(variant.server.kind);
    const measured = await runAutocannon({
      port: port!,
      request: variant.request,
      durationS: options.durationS,
      connections: options.connections,
    });
    const cpuAfter = await pool.cpuUs(variant.server.kind);
    measured.cpuUsPerRequest =
      measured.requests > 0 ? (cpuAfter - cpuBefore) / measured.requests : undefined;
    return measured;
  };
}

function formatRound(measured: RoundResult): string {
  return measured.instructionsPerRequest === undefined
    ? `${Math.round(measured.reqPerSec)} req/s, p99 ${measured.p99Ms} ms`
    : `${Math.round(measured.instructionsPerRequest).toLocaleString('en')} instructions/request`;
}

async function runScenario(
  scenario: Scenario,
  options: BenchOptions,
  pool: ServerPool,
  redis: BenchRedis | undefined,
  redisProblem: string | undefined,
  callgrindDir: string | undefined,
): Promise<VariantResult[]> {
  const live: Live[] = scenario.variants.map(variant => ({
    variant,
    result: { scenarioId: scenario.id, variantId: variant.id, label: variant.label, rounds: [] },
  }));
  const key = (variant: Variant) => `${scenario.id}/${variant.id}`;

  for (const entry of live) {
    const { variant, result } = entry;
    if (variant.server.rateLimit === 'redis' && !redis) {
      result.unavailable = `no redis-server: ${redisProblem}`;
      continue;
    }
    try {
      entry.port = await pool.start(key(variant), { ...variant.server, redisUrl: redis?.url });
      result.unavailable = await probeVariant(entry.port, variant, redis);
    } catch (error) {
      result.unavailable = `server did not start: ${summarizeError(error)}`;
    }
    if (result.unavailable) {
      log(`[${scenario.id}] ${variant.label}: not available (${result.unavailable})`);
    }
  }

  const measurable = () =>
    live.filter(entry => entry.port !== undefined && !entry.result.unavailable);
  const measure = async (entry: Live, round: number, measureRound: MeasureRound) => {
    const { variant, result } = entry;
    const measured = await measureRound(entry);
    result.rounds.push(measured);
    result.unavailable = unexpectedStatuses(variant, measured);
    log(
      `[${scenario.id}] round ${round}/${options.rounds} ${variant.label}: ${formatRound(measured)}` +
        (result.unavailable ? ` (${result.unavailable})` : ''),
    );
  };
  if (callgrindDir) {
    // One variant after another, each settled and then counted at once: a child left idle while the others
    // are counted loses part of its warm-up (its next round counts up to twice as many instructions), and
    // counts do not depend on what else the machine does, which is what interleaving is for.
    const measureRound: MeasureRound = entry =>
      countRound(pool, callgrindDir, { variant: entry.variant, port: entry.port! }, options);
    for (const entry of measurable()) {
      const target = { variant: entry.variant, port: entry.port! };
      const settling = await settleVariant(pool, callgrindDir, target, options);
      log(
        `[${scenario.id}] ${entry.variant.label}: settled after ${settling.length} counted rounds ` +
          `(${settling.map(count => Math.round(count).toLocaleString('en')).join(' → ')})`,
      );
      for (let round = 1; round <= options.rounds && !entry.result.unavailable; round++) {
        await measure(entry, round, measureRound);
      }
    }
  } else {
    if (options.warmupS > 0) {
      for (const { port, variant } of measurable()) {
        const { durationS: _, ...rest } = options;
        await runAutocannon({
          ...rest,
          port: port!,
          request: variant.request,
          durationS: options.warmupS,
        });
      }
    }
    const measureRound = throughputRound(options, pool);
    for (let round = 1; round <= options.rounds; round++) {
      for (const entry of measurable()) {
        await measure(entry, round, measureRound);
      }
    }
  }

  for (const { variant, port } of live) {
    if (port !== undefined) {
      await pool.stop(key(variant), variant.server.kind);
    }
  }
  for (const { result } of live) {
    if (!result.unavailable) {
      result.medianReqPerSec = median(result.rounds.map(r => r.reqPerSec));
      result.medianP99Ms = median(result.rounds.map(r => r.p99Ms));
      result.medianCpuUsPerRequest = median(
        result.rounds.flatMap(r => (r.cpuUsPerRequest === undefined ? [] : [r.cpuUsPerRequest])),
      );
      const counts = result.rounds.flatMap(r =>
        r.instructionsPerRequest === undefined ? [] : [r.instructionsPerRequest],
      );
      result.medianInstructionsPerRequest = median(counts);
      result.lowestInstructionsPerRequest = counts.length ? Math.min(...counts) : undefined;
    }
  }
  return live.map(entry => entry.result);
}

async function main() {
  const options = readBenchOptions();
  const instructions = options.method === 'instructions';
  const all = createScenarios();
  const unmatched = options.scenarios.filter(f => !all.some(s => matchesScenario(s.id, f)));
  if (unmatched.length > 0) {
    throw new Error(
      `BENCH_SCENARIOS names ${unmatched.join(', ')}, which match no scenario; the ids are ${all.map(s => s.id).join(', ')}`,
    );
  }
  const scenarios = all.filter(scenario =>
    options.scenarios.length === 0
      ? !instructions || !SLOW_UNDER_VALGRIND.some(prefix => scenario.id.startsWith(prefix))
      : options.scenarios.some(f => matchesScenario(scenario.id, f)),
  );

  let redis: BenchRedis | undefined;
  let redisProblem: string | undefined;
  if (scenarios.some(s => s.variants.some(v => v.server.rateLimit === 'redis'))) {
    try {
      redis = await startRedisServer(options.redisServer);
    } catch (error) {
      redisProblem = (error as Error).message;
      log(`Redis scenarios are not available: ${redisProblem}`);
    }
  }
  log('Compiling the bench and the library for the server children…');
  compileBench();
  const callgrindDir = instructions ? mkdtempSync(join(tmpdir(), 'bench-callgrind-')) : undefined;
  const pool = createServerPool({ cpuProf: options.cpuProf, callgrindDir });
  const cleanUp = async () => {
    await pool.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    if (callgrindDir) {
      rmSync(callgrindDir, { recursive: true, force: true });
    }
  };
  // Interrupted or killed, the bench still stops its redis-server and its children (by pid).
  process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));
  process.once('SIGTERM', () => void cleanUp().then(() => process.exit(143)));

  const results: VariantResult[] = [];
  try {
    for (const scenario of scenarios) {
      results.push(
        ...(await runScenario(scenario, options, pool, redis, redisProblem, callgrindDir)),
      );
    }
  } finally {
    await cleanUp();
  }

  const cpuList = cpus();
  const info: RunInfo = {
    date: new Date().toISOString().slice(0, 10),
    node: process.version,
    cpus: `${cpuList.length} × ${cpuList[0]?.model.trim() ?? 'unknown CPU'}`,
    options,
  };
  const targets = evaluateTargets(results, options.method);
  const markdown = formatResults(info, scenarios, results, targets);
  const name = instructions ? 'instructions' : 'results';
  writeFileSync(join(__dirname, `${name}.md`), markdown);
  writeFileSync(
    join(__dirname, `${name}.json`),
    `${JSON.stringify({ ...info, startedScenarios: scenarios.map(s => s.id), targets, results }, null, 2)}\n`,
  );
  process.stdout.write(`${markdown}\nREADME line:\n${formatReadmeLine(info)}\n`);
  if (options.cpuProf) {
    log(`CPU profiles of the server children are in ${PROFILE_DIR}`);
  }
}

// The bench reports targets; it does not gate on them, so only a crash sets a failing exit code.
main().catch(error => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
