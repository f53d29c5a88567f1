import autocannon from 'autocannon';
import type { RequestSpec, RoundResult } from './types';

/** Options for {@link runAutocannon}. */
export interface RunAutocannonOptions {
  port: number;
  request: RequestSpec;
  /** How long to load the server; ignored when `amount` is set. */
  durationS: number;
  connections: number;
  /** Send exactly this many requests instead of loading for `durationS`. */
  amount?: number;
}

/**
 * Loads one server with one request for a while and sums up what came back.
 *
 * @remarks
 * req/s is the number of responses over the run's actual duration, which is steadier than the mean
 * of autocannon's one-second samples when a run lasts only a few seconds.
 */
export async function runAutocannon(options: RunAutocannonOptions): Promise<RoundResult> {
  const { port, request, durationS, connections, amount } = options;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${request.path}`,
    headers: request.headers,
    ...(amount === undefined ? { duration: durationS } : { amount }),
    connections,
  });
  const statusCodeStats =
    (result as unknown as { statusCodeStats?: Record<string, { count: number }> })
      .statusCodeStats ?? {};
  const statuses = Object.fromEntries(
    Object.entries(statusCodeStats).map(([status, { count }]) => [status, count]),
  );
  return {
    reqPerSec: result.requests.total / Math.max(result.duration, 1e-3),
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
