import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { metricsServiceRef } from '@backstage/backend-plugin-api/alpha';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

/** How often the reader collects, as a Prometheus scrape would (usually every 15 to 60 s): more often, to be safe. */
const COLLECT_INTERVAL_MS = 1_000;

/** A reader that collects on a timer and drops the result, standing in for an exporter. */
class ScrapingReader extends MetricReader {
  #timer: NodeJS.Timeout | undefined;

  start(): void {
    this.#timer = setInterval(() => {
      void this.collect().catch(() => undefined);
    }, COLLECT_INTERVAL_MS);
    this.#timer.unref();
  }

  protected override async onForceFlush(): Promise<void> {}

  protected override async onShutdown(): Promise<void> {
    clearInterval(this.#timer);
  }
}

/**
 * A real OpenTelemetry SDK for one bench backend: a `MeterProvider` with a reader that collects every second, given
 * to the plugins as the backend's metrics service, one meter per plugin (`backstage-plugin-<pluginId>`), as
 * Backstage's own metrics service scopes them.
 *
 * @remarks
 * Not registered as OpenTelemetry's global provider: the server child hosts the other variants of its side too,
 * which must keep recording into the no-op meter.
 */
export function createBenchMetricsService() {
  const reader = new ScrapingReader();
  const provider = new MeterProvider({ readers: [reader] });
  reader.start();
  const factory = createServiceFactory({
    service: metricsServiceRef,
    deps: { plugin: coreServices.pluginMetadata },
    factory: ({ plugin }) => provider.getMeter(`backstage-plugin-${plugin.getId()}`),
  });
  return { factory, stop: () => provider.shutdown() };
}
