import { countInstructions } from './countInstructions';
import { runAutocannon } from './runAutocannon';
import type { BenchOptions } from './readBenchOptions';
import type { ServerPool } from './createServerPool';
import type { RoundResult, Variant } from './types';

/** Two counted rounds in a row within this fraction of each other show that the JIT has settled. */
const SETTLED_WITHIN = 0.015;

/** Counted rounds thrown away at most while the count still falls. */
const MAX_SETTLING_ROUNDS = 6;

/** One variant's server, as the instructions method measures it. */
export interface InstructionTarget {
  variant: Variant;
  port: number;
}

/**
 * Sends one round of requests to a variant and counts the instructions its server child executes meanwhile.
 *
 * @param pool - the server children, run under callgrind.
 * @param callgrindDir - where the children write their dumps.
 * @param target - the variant and its port.
 * @param options - the run's options (requests per round, connections).
 */
export async function countRound(
  pool: ServerPool,
  callgrindDir: string,
  target: InstructionTarget,
  options: BenchOptions,
): Promise<RoundResult> {
  const pid = pool.pid(target.variant.server.kind);
  if (pid === undefined) {
    throw new Error(`the ${target.variant.server.kind} server child is not running`);
  }
  const { instructions, result } = await countInstructions(pid, callgrindDir, () =>
    runAutocannon({
      port: target.port,
      request: target.variant.request,
      durationS: 0,
      connections: options.connections,
      amount: options.instructionRequests,
    }),
  );
  return {
    ...result,
    instructionsPerRequest: result.requests > 0 ? instructions / result.requests : undefined,
  };
}

/**
 * Warms a variant up until its counts stop falling, so that the rounds that follow measure a settled JIT.
 *
 * @remarks
 * First `instructionWarmup` requests uncounted, which runs fast; then counted rounds, thrown away, until one is
 * within {@link SETTLED_WITHIN} of the one before (at most {@link MAX_SETTLING_ROUNDS}). Counted rounds are needed too: the count falls for two or
 * three of them after instrumentation is switched on, however long the uncounted warm-up was.
 *
 * @returns the counts of the rounds thrown away, per request.
 */
export async function settleVariant(
  pool: ServerPool,
  callgrindDir: string,
  target: InstructionTarget,
  options: BenchOptions,
): Promise<number[]> {
  await runAutocannon({
    port: target.port,
    request: target.variant.request,
    durationS: 0,
    connections: options.connections,
    amount: options.instructionWarmup,
  });
  const counts: number[] = [];
  for (let round = 0; round < MAX_SETTLING_ROUNDS; round++) {
    const { instructionsPerRequest } = await countRound(pool, callgrindDir, target, options);
    if (instructionsPerRequest === undefined) {
      break;
    }
    const previous = counts[counts.length - 1];
    counts.push(instructionsPerRequest);
    if (
      previous !== undefined &&
      Math.abs(instructionsPerRequest - previous) <= previous * SETTLED_WITHIN
    ) {
      break;
    }
  }
  return counts;
}
