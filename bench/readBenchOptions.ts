/** How a bench run is shaped; see bench/README.md for the variables. */
export interface BenchOptions {
  /** Seconds per measured autocannon run (autocannon rounds it up to whole seconds). Defaults to 1. */
  durationS: number;
  /** Seconds of unmeasured load per variant before its first round. Defaults to 1. */
  warmupS: number;
  /** Interleaved rounds per scenario. Defaults to 5. */
  rounds: number;
  /** Concurrent autocannon connections. Defaults to 10. */
  connections: number;
  /** Substrings of scenario ids to run; empty runs all. Defaults to all. */
  scenarios: string[];
  /** Profile the server children with `--cpu-prof`. Defaults to false. */
  cpuProf: boolean;
  /** The redis-server binary. Defaults to `redis-server` on the PATH. */
  redisServer: string;
}

const DEFAULTS = {
  // Several short rounds rather than a few long ones: on a shared two-core machine the median shrugs
  // off a bad round. autocannon stops at its next one-second sample, so a run lasts whole seconds: 1.5 s
  // took 2 s, and four such rounds ran for 4 min 57 s over all 32 variants. Five rounds of 1 s take about 4.5.
  BENCH_DURATION_S: 1,
  BENCH_WARMUP_S: 1,
  BENCH_ROUNDS: 5,
  BENCH_CONNECTIONS: 10,
};

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
 */
export function readBenchOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const durationS = readNumber(env, 'BENCH_DURATION_S', false);
  if (durationS === 0) {
    throw new Error('BENCH_DURATION_S is 0, expected a number of seconds above 0');
  }
  const cpuProf = env.BENCH_CPU_PROF ?? '';
  if (!['', '0', '1'].includes(cpuProf)) {
    throw new Error(`BENCH_CPU_PROF is ${JSON.stringify(cpuProf)}, expected 1 or 0`);
  }
  return {
    durationS,
    warmupS: readNumber(env, 'BENCH_WARMUP_S', false),
    rounds: readNumber(env, 'BENCH_ROUNDS', true),
    connections: readNumber(env, 'BENCH_CONNECTIONS', true),
    scenarios: (env.BENCH_SCENARIOS ?? '')
      .split(',')
      .map(part => part.trim())
      .filter(Boolean),
    cpuProf: cpuProf === '1',
    redisServer: env.BENCH_REDIS_SERVER || 'redis-server',
  };
}
