import { createServiceFactory, createServiceRef } from '@backstage/backend-plugin-api';
import { metrics } from '@opentelemetry/api';
import { LIBRARY_METER_NAME } from './instrumentNames';
import type { HttpRouterMeter } from './types';

/**
 * The id of `metricsServiceRef` in `@backstage/backend-plugin-api/alpha` (from 1.8.0 on).
 */
const METRICS_SERVICE_ID = 'alpha.core.metrics';

/**
 * A dependency on the backend's metrics service that still resolves when the backend registers none.
 *
 * @remarks
 * `createBackend()` (backend-defaults 0.16 and later) and `startTestBackend` register a factory for the alpha
 * `metricsServiceRef`, but that ref has no default factory, and the backend system has no optional dependencies:
 * a factory that lists the ref fails to start in a backend assembled without it. The backend finds a service's
 * factory by its ref's id, so this ref, with the same id, gets the backend's metrics service where one is
 * registered, and otherwise its own default: OpenTelemetry's global meter named `backstage-http-router`, the same
 * source Backstage's own metrics service uses. An optional dependency in the backend system (or a default factory
 * on `metricsServiceRef`) would make this ref unnecessary. Importing the alpha entry point is avoided too, so
 * that a later release moving the ref out of alpha cannot stop the router from loading.
 *
 * @internal
 */
export const optionalMetricsServiceRef = createServiceRef<HttpRouterMeter>({
  id: METRICS_SERVICE_ID,
  scope: 'plugin',
  defaultFactory: async service =>
    createServiceFactory({
      service,
      deps: {},
      factory: () => metrics.getMeter(LIBRARY_METER_NAME),
    }),
});
