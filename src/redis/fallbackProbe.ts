import { metrics, type ObservableGauge, type ObservableResult } from '@opentelemetry/api';
import { LIBRARY_METER_NAME, METRIC_NAMES } from '../metrics';

type Probe = { connection: string; isInFallback: () => boolean };

const probes = new Set<Probe>();
let gauge: ObservableGauge | undefined;
/** The global provider the gauge belongs to; the two below are about its collections. */
let provider: object | undefined;
let lastReported = new Map<string, number>();
/** Closed while last shown in fallback: cumulative exporters repeat a last value, so each gets a last 0. */
const closedInFallback = new Set<string>();

function observe(result: ObservableResult): void {
  // One value per connection: 1 when any store on it is in fallback (two timeouts on one URL are two clients).
  const values = new Map<string, number>();
  for (const connection of closedInFallback) values.set(connection, 0);
  closedInFallback.clear();
  for (const { connection, isInFallback } of probes) {
    let value = 0;
    try {
      value = isInFallback() ? 1 : 0;
    } catch {
      // A probe that throws must not hide the other connections; its connection reads as not in fallback.
    }
    values.set(connection, Math.max(values.get(connection) ?? 0, value));
  }
  for (const [connection, value] of values) result.observe(value, { connection });
  lastReported = values;
}

function withoutCredentials(url: unknown): string {
  try {
    const parsed = new URL(String(url));
    parsed.username = '';
    parsed.password = '';
    // The store refuses a query string, but an invalid connection still gets a series: it may hold a password.
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(invalid connection)';
  }
}

/** The `connection` attribute: the URL(s), comma-separated, without credentials, query or fragment. */
export function redisConnectionAttribute(connection: string | readonly string[]): string {
  return (Array.isArray(connection) ? connection : [connection]).map(withoutCredentials).join(',');
}

/**
 * Shows a connection on the Redis fallback gauge (1 while `isInFallback()`), on the global meter: connections
 * serve every plugin, and an SDK registered after start-up is picked up when the next probe registers.
 * @param connection - The attribute, from {@link redisConnectionAttribute}: never a password.
 * @returns A function that removes the probe; safe to call twice.
 */
export function registerRedisFallbackProbe(
  connection: string,
  isInFallback: () => boolean,
): () => void {
  const current = metrics.getMeterProvider();
  if (current !== provider) {
    // Another SDK shows no series of the previous one, so it needs no last 0 for them either.
    gauge?.removeCallback(observe);
    provider = current;
    lastReported = new Map();
    closedInFallback.clear();
    gauge = current.getMeter(LIBRARY_METER_NAME).createObservableGauge(METRIC_NAMES.redisFallback, {
      description: '1 while a Redis rate-limit connection is in fallback, 0 otherwise',
      unit: '1',
    });
    gauge.addCallback(observe);
  }
  const probe: Probe = { connection, isInFallback };
  probes.add(probe);
  return () => {
    if (!probes.delete(probe) || lastReported.get(connection) !== 1) return;
    if (![...probes].some(other => other.connection === connection))
      closedInFallback.add(connection);
  };
}
