import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createScenarios } from './createScenarios';
import { createServerPool, PROFILE_DIR, type ServerPool } from './createServerPool';
import { evaluateTargets } from './evaluateTargets';
import { formatReadmeLine, formatResults, type RunInfo } from './formatResults';
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

async function runScenario(
  scenario: Scenario,
  options: BenchOptions,
  pool: ServerPool,
  redis: BenchRedis | undefined,
  redisProblem: string | undefined,
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
  for (let round = 1; round <= options.rounds; round++) {
    for (const { port, variant, result } of measurable()) {
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
      result.rounds.push(measured);
      result.unavailable = unexpectedStatuses(variant, measured);
      log(
        `[${scenario.id}] round ${round}/${options.rounds} ${variant.label}: ` +
          `${Math.round(measured.reqPerSec)} req/s, p99 ${measured.p99Ms} ms` +
          (result.unavailable ? ` (${result.unavailable})` : ''),
      );
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
    }
  }
  return live.map(entry => entry.result);
}

async function main() {
  const options = readBenchOptions();
  const scenarios = createScenarios().filter(
    scenario =>
      options.scenarios.length === 0 || options.scenarios.some(f => scenario.id.includes(f)),
  );
  if (scenarios.length === 0) {
    throw new Error(`BENCH_SCENARIOS=${options.scenarios.join(',')} matches no scenario`);
  }

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
  const pool = createServerPool({ cpuProf: options.cpuProf });
  const cleanUp = async () => {
    await pool.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void cleanUp().then(() => process.exit(130)));

  const results: VariantResult[] = [];
  try {
    for (const scenario of scenarios) {
      results.push(...(await runScenario(scenario, options, pool, redis, redisProblem)));
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
  const targets = evaluateTargets(results);
  const markdown = formatResults(info, scenarios, results, targets);
  writeFileSync(join(__dirname, 'results.md'), markdown);
  writeFileSync(
    join(__dirname, 'results.json'),
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
