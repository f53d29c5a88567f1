import type { BenchMethod } from './readBenchOptions';
import type { TargetResult, VariantResult } from './types';

interface TargetDefinition {
  description: string;
  threshold: number;
  scenarioId: string;
  numerator: string;
  denominator: string;
  /**
   * Judge the throughput method on the server's CPU time per request rather than on req/s, for a target stated as
   * a share of CPU. Defaults to req/s.
   */
  judgeOn?: 'cpu';
}

/**
 * The targets of issue 6, all on the plugin stack, as ratios of median req/s within one scenario (or, counting
 * instructions, the inverse ratio of median instructions per request: what the req/s ratio would be if time
 * followed instructions).
 */
export const TARGETS: readonly TargetDefinition[] = [
  {
    description: 'unauthenticated policy route: ours ≥ 0.92× bare express',
    threshold: 0.92,
    scenarioId: 'plugin/public',
    numerator: 'ours',
    denominator: 'bare',
  },
  {
    description: 'unauthenticated policy route: ours ≥ 1.1× upstream',
    threshold: 1.1,
    scenarioId: 'plugin/public',
    numerator: 'ours',
    denominator: 'upstream',
  },
  {
    description: 'authenticated route (service token): ours ≥ 0.90× bare express',
    threshold: 0.9,
    scenarioId: 'plugin/service-token',
    numerator: 'ours',
    denominator: 'bare',
  },
  {
    description: '1,000 policies, request matches the last: ≥ 0.95× 1 policy',
    threshold: 0.95,
    scenarioId: 'plugin/policies-last',
    numerator: 'ours-1000',
    denominator: 'ours-1',
  },
  {
    description: '1,000 policies, request matches none: ≥ 0.95× 1 policy',
    threshold: 0.95,
    scenarioId: 'plugin/policies-none',
    numerator: 'ours-1000',
    denominator: 'ours-1',
  },
  {
    description: 'rate limiting, memory store: ≥ 0.95× without rate limiting',
    threshold: 0.95,
    scenarioId: 'plugin/rate-limit',
    numerator: 'ours-memory',
    denominator: 'ours-off',
  },
  {
    description: 'rate limiting, Redis store: ≥ 0.85× without rate limiting',
    threshold: 0.85,
    scenarioId: 'plugin/rate-limit',
    numerator: 'ours-redis',
    denominator: 'ours-off',
  },
  // Issue 13: per-principal limiting costs at most 5 % more than per-address limiting in the same run.
  ...(['memory', 'redis'] as const).map(store => ({
    description: `per-principal rate limiting, ${store} store: ≥ 0.95× per address (user token)`,
    threshold: 0.95,
    scenarioId: 'plugin/rate-limit-principal',
    numerator: `ours-${store}-principal`,
    denominator: `ours-${store}-address`,
  })),
  // Issue 14: recording into a real OpenTelemetry SDK costs at most 3 % server CPU per request.
  ...(['memory', 'redis'] as const).map(store => ({
    description: `metrics into an OpenTelemetry SDK, ${store} store: ≤ 3 % more server CPU per request than no SDK (judged by CPU)`,
    threshold: 1 / 1.03,
    scenarioId: 'plugin/metrics',
    numerator: `ours-${store}-otel`,
    denominator: `ours-${store}`,
    judgeOn: 'cpu' as const,
  })),
  // Issue 22: 20 route rules cost at most 5 % more server CPU per request, whether a request matches one or none.
  ...(['none', 'one'] as const).map(matching => ({
    description: `20 route rules, request matches ${matching}: ≤ 5 % more server CPU per request than no rules (judged by CPU)`,
    threshold: 1 / 1.05,
    scenarioId: 'plugin/rate-limit-routes',
    numerator: `ours-rules-${matching}`,
    denominator: 'ours-no-rules',
    judgeOn: 'cpu' as const,
  })),
];

/**
 * Says, for each target, whether the run meets it.
 *
 * @param results - every measured variant of the run.
 * @param method - what the run measured. Defaults to throughput.
 */
export function evaluateTargets(
  results: readonly VariantResult[],
  method: BenchMethod = 'throughput',
): TargetResult[] {
  const speed = (result: VariantResult) =>
    method === 'instructions'
      ? result.medianInstructionsPerRequest && 1 / result.medianInstructionsPerRequest
      : result.medianReqPerSec;
  const find = (scenarioId: string, variantId: string) =>
    results.find(r => r.scenarioId === scenarioId && r.variantId === variantId);
  return TARGETS.map(({ description, threshold, scenarioId, numerator, denominator, judgeOn }) => {
    const top = find(scenarioId, numerator);
    const bottom = find(scenarioId, denominator);
    if (!top || !bottom) {
      return {
        description,
        threshold,
        status: 'not available',
        reason: `${scenarioId} was not run`,
      };
    }
    const missing = [top, bottom].find(r => r.unavailable || !speed(r));
    if (missing) {
      return {
        description,
        threshold,
        status: 'not available',
        reason: `${missing.label}: ${missing.unavailable ?? 'no numbers'}`,
      };
    }
    const ratio = speed(top)! / speed(bottom)!;
    const cpuRatio = inverseRatio(top.medianCpuUsPerRequest, bottom.medianCpuUsPerRequest);
    const judged = judgeOn === 'cpu' && method === 'throughput' ? cpuRatio : ratio;
    if (judged === undefined) {
      return { description, threshold, ratio, status: 'not available', reason: 'no CPU times' };
    }
    return {
      description,
      threshold,
      ratio,
      cpuRatio,
      lowestRatio: inverseRatio(
        top.lowestInstructionsPerRequest,
        bottom.lowestInstructionsPerRequest,
      ),
      status: judged >= threshold ? 'holds' : 'misses',
    };
  });
}

/** A cost ratio turned into a speed ratio (the bottom's cost over the top's), when both costs are known. */
function inverseRatio(top: number | undefined, bottom: number | undefined): number | undefined {
  return top && bottom ? bottom / top : undefined;
}
