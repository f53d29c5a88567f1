import { metrics, type Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

/** A reader that exports nothing by itself: the test asks it for the current values. */
class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** One recorded data point, flattened for assertions. */
export interface RecordedPoint {
  scope: string;
  name: string;
  unit: string;
  type: 'counter' | 'up_down_counter' | 'histogram' | 'gauge';
  attributes: Attributes;
  /** The sum or gauge value; for a histogram, its sum. */
  value: number;
  /** For a histogram: how many values it recorded, its bucket boundaries and the count in each bucket. */
  count?: number;
  boundaries?: number[];
  bucketCounts?: number[];
}

/** A real OpenTelemetry SDK registered as the process's global meter provider for one test. */
export interface MetricsSdk {
  /** Everything recorded so far, one entry per data point. */
  collect(): Promise<RecordedPoint[]>;
  /** Shuts the SDK down and unregisters it globally (`metrics.disable()`). */
  stop(): Promise<void>;
}

/** Registers a `MeterProvider` with an in-memory reader as the global provider; call `stop()` after the test. */
export function startMetricsSdk(): MetricsSdk {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  if (!metrics.setGlobalMeterProvider(provider)) {
    throw new Error('A global meter provider is already registered; a test left its SDK running');
  }
  return {
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) {
        throw errors[0];
      }
      return resourceMetrics.scopeMetrics.flatMap(({ scope, metrics: metricData }) =>
        metricData.flatMap(metric =>
          metric.dataPoints.map((point): RecordedPoint => {
            const base = {
              scope: scope.name,
              name: metric.descriptor.name,
              unit: metric.descriptor.unit,
              attributes: point.attributes,
            };
            if (metric.dataPointType === DataPointType.HISTOGRAM) {
              const histogram = point.value as {
                sum?: number;
                count: number;
                buckets: { boundaries: number[]; counts: number[] };
              };
              return {
                ...base,
                type: 'histogram',
                value: histogram.sum ?? 0,
                count: histogram.count,
                boundaries: histogram.buckets.boundaries,
                bucketCounts: histogram.buckets.counts,
              };
            }
            let type: RecordedPoint['type'] = 'gauge';
            if (metric.dataPointType === DataPointType.SUM) {
              type = metric.isMonotonic ? 'counter' : 'up_down_counter';
            }
            return { ...base, type, value: point.value as number };
          }),
        ),
      );
    },
    async stop() {
      await provider.shutdown();
      metrics.disable();
    },
  };
}
