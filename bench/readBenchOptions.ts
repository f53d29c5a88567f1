/**
 * What a run measures: req/s under load (`npm run bench`), or instructions per request counted by valgrind's
 * callgrind (`npm run bench:instructions`).
 */
export type BenchMethod = 'throughput' | 'instructions';

/** How a bench run is shaped; see bench/README.md for the variables. */
export interface BenchOptions {
  /** What the run measures. Defaults to throughput. */
  method: BenchMethod;
  /** Seconds per measured autocannon run (autocannon rounds it up to whole seconds). Defaults to 1. */
  durationS: number;
  /** Seconds of unmeasured load per variant before its first round. Defaults to 1. */
  warmupS: number;
  /** Interleaved rounds per scenario. Defaults to 5. */
  rounds: number;
  /** Concurrent autocannon connections. Defaults to 10. */
  connections: number;
  /** Scenario ids to run, exact or ending in `*` for a prefix; empty runs all. Defaults to all. */
  scenarios: string[];
  /** Profile the server children with `--cpu-prof`. Defaults to false. */
  cpuProf: boolean;
  /** The redis-server binary. Defaults to `redis-server` on the PATH. */
  redisServer: string;
  /** Instructions method: requests per counted round. Defaults to 2000. */
  instructionRequests: number;
  /** Instructions method: requests sent to each variant, uncounted, before its first counted round. Defaults to 5000. */
  instructionWarmup: number;
}

const DEFAULTS = {
  // Several short rounds rather than a few long ones: on a shared two-core machine the median shrugs
  // off a bad round. autocannon stops at its next one-second sample, so a run lasts whole seconds: 1.5 s
  // took 2 s, and four such rounds ran for 4 min 57 s over all 32 variants. Five rounds of 1 s take about 4.5.
  BENCH_DURATION_S: 1,
  BENCH_WARMUP_S: 1,
  BENCH_ROUNDS: 5,
  BENCH_CONNECTIONS: 10,
  BENCH_INSTR_REQUESTS: 2000,
  BENCH_INSTR_WARMUP: 5000,
};

/**
 * Counted rounds per variant. Most rounds of a settled variant agree within 1 %, but a round in which a full
 * garbage collection lands counts more; the median of five leaves out up to two such rounds.
 */
const INSTRUCTION_ROUNDS = 5;

function readNumber(env: NodeJS.ProcessEnv, name: keyof typeof DEFAULTS, integer: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return DEFAULTS[name];
  }
  const value = Number(raw);
  const ok = integer ? Number.isInteger(value) && value > 0 : Number.isFinite(value) && value >= 0;
  if (!ok) {
    const allowed = integer ? 'a whole number above 0' : 'a number of seconds, 0 or more';
    throw new Error(`${name} is ${JSON.stringify(raw)}, expected ${allowed}`);
  }
  return value;
}

/**
 * Reads the bench options from environment variables, failing on a value it cannot use.
 *
 * @param env - the environment to read. Defaults to `process.env`.
 * @param args - the command-line arguments after the script: none, or `instructions`. Defaults to the process's.
 */
export function readBenchOptions(
  env: NodeJS.ProcessEnv = process.env,
  args: readonly string[] = process.argv.slice(2),
): BenchOptions {
  if (args.length > 1 || (args.length === 1 && args[0] !== 'instructions')) {
    throw new Error(
      `unexpected arguments ${JSON.stringify(args)}: expected none, or 'instructions'`,
    );
  }
  const method: BenchMethod = args[0] === 'instructions' ? 'instructions' : 'throughput';
  const durationS = readNumber(env, 'BENCH_DURATION_S', false);
  if (durationS === 0) {
    throw new Error('BENCH_DURATION_S is 0, expected a number of seconds above 0');
  }
  const cpuProf = env.BENCH_CPU_PROF ?? '';
  if (!['', '0', '1'].includes(cpuProf)) {
    throw new Error(`BENCH_CPU_PROF is ${JSON.stringify(cpuProf)}, expected 1 or 0`);
  }
  return {
    method,
    durationS,
    warmupS: readNumber(env, 'BENCH_WARMUP_S', false),
    rounds:
      method === 'instructions' && !env.BENCH_ROUNDS
        ? INSTRUCTION_ROUNDS
        : readNumber(env, 'BENCH_ROUNDS', true),
    connections: readNumber(env, 'BENCH_CONNECTIONS', true),
    scenarios: (env.BENCH_SCENARIOS ?? '')
      .split(',')
      .map(part => part.trim())
      .filter(Boolean),
    cpuProf: cpuProf === '1',
    redisServer: env.BENCH_REDIS_SERVER || 'redis-server',
    instructionRequests: readNumber(env, 'BENCH_INSTR_REQUESTS', true),
    instructionWarmup: readNumber(env, 'BENCH_INSTR_WARMUP', true),
  };
}
