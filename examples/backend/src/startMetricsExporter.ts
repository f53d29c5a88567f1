import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

const PORT_VARIABLE = 'EXAMPLE_METRICS_PORT';

/** The exporter that {@link startMetricsExporter} started. */
export interface MetricsExporter {
  /** Where Prometheus scrapes, such as `http://127.0.0.1:9464/metrics`. */
  url: string;
  /** Settles once the server listens; rejects when it cannot (the port is taken). */
  ready: Promise<void>;
  /** Stops the exporter's server and unregisters the SDK. */
  stop(): Promise<void>;
}

/**
 * With `EXAMPLE_METRICS_PORT` set, registers an OpenTelemetry SDK whose Prometheus exporter serves the metrics
 * on that port of 127.0.0.1 only.
 *
 * @remarks
 * Must run before the backend starts: instruments created before an SDK is registered stay no-ops. A real
 * backend does this in a file loaded with `node --require` (see Backstage's "Setting up OpenTelemetry" guide).
 * Returns `undefined` when the variable is unset or empty, and throws for a value that is not a port. The SDK is
 * registered at once; the server starts listening in the background (see `ready`).
 */
export function startMetricsExporter(
  env: NodeJS.ProcessEnv = process.env,
): MetricsExporter | undefined {
  const value = env[PORT_VARIABLE];
  if (value === undefined || value === '') {
    return undefined;
  }
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new Error(`${PORT_VARIABLE} must be a port number from 1 to 65535, got '${value}'`);
  }
  let exporter: PrometheusExporter | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    exporter = new PrometheusExporter({ host: '127.0.0.1', port }, error =>
      error ? reject(error) : resolve(),
    );
  });
  const provider = new MeterProvider({ readers: [exporter as PrometheusExporter] });
  metrics.setGlobalMeterProvider(provider);
  return {
    url: `http://127.0.0.1:${port}${PrometheusExporter.DEFAULT_OPTIONS.endpoint}`,
    ready,
    async stop() {
      await provider.shutdown();
      metrics.disable();
    },
  };
}
