import { createSpecializedBackend } from '@backstage/backend-app-api';
import {
  coreServices,
  createBackendPlugin,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { metricsServiceRef } from '@backstage/backend-plugin-api/alpha';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { metrics } from '@opentelemetry/api';
import { createHttpRouterMetrics, METRIC_NAMES, optionalMetricsServiceRef } from '../../metrics';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';

/** A plugin that records one refusal through the router's instruments at start-up, as the router will. */
const recordingPlugin = createBackendPlugin({
  pluginId: 'recorder',
  register(env) {
    env.registerInit({
      deps: { meter: optionalMetricsServiceRef },
      async init({ meter }) {
        createHttpRouterMetrics({ meter, pluginId: 'recorder' }).credentialsBarrier.recordRefusal(
          'missing',
        );
      },
    });
  },
});

/** The scopes under which the refusal was recorded. */
async function refusalScopes(sdk: MetricsSdk): Promise<string[]> {
  return (await sdk.collect())
    .filter(point => point.name === METRIC_NAMES.authRefused)
    .map(point => `${point.scope} ${point.attributes.plugin} ${point.value}`);
}

/** A backend with only what the backend system itself needs: no metrics service. */
async function startBackendWithoutMetricsService() {
  const backend = createSpecializedBackend({
    defaultServiceFactories: [
      mockServices.rootConfig.factory(),
      mockServices.rootLogger.factory(),
      mockServices.rootLifecycle.factory(),
      mockServices.lifecycle.factory(),
      mockServices.logger.factory(),
    ],
  });
  backend.add(recordingPlugin);
  await backend.start();
  return backend;
}

describe('optionalMetricsServiceRef', () => {
  let sdk: MetricsSdk;

  beforeEach(() => {
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    await sdk.stop();
  });

  it("gets the backend's metrics service where one is registered", async () => {
    // startTestBackend registers backend-defaults' metrics service, which scopes a plugin's meter to it.
    const backend = await startTestBackend({ features: [recordingPlugin] });
    try {
      expect(await refusalScopes(sdk)).toEqual(['backstage-plugin-recorder recorder 1']);
    } finally {
      await backend.stop();
    }
  });

  it('gets a metrics service that the backend replaced, through the alpha ref', async () => {
    const custom = createServiceFactory({
      service: metricsServiceRef,
      deps: { plugin: coreServices.pluginMetadata },
      factory: ({ plugin }) => metrics.getMeter(`custom-${plugin.getId()}`),
    });
    const backend = await startTestBackend({ features: [custom, recordingPlugin] });
    try {
      expect(await refusalScopes(sdk)).toEqual(['custom-recorder recorder 1']);
    } finally {
      await backend.stop();
    }
  });

  it("falls back to OpenTelemetry's global meter in a backend without a metrics service", async () => {
    const backend = await startBackendWithoutMetricsService();
    try {
      expect(await refusalScopes(sdk)).toEqual(['backstage-http-router recorder 1']);
    } finally {
      await backend.stop();
    }
  });

  it('lets such a backend start without an SDK too', async () => {
    await sdk.stop();
    const backend = await startBackendWithoutMetricsService();
    await backend.stop();
    sdk = startMetricsSdk();
    expect(await refusalScopes(sdk)).toEqual([]);
  });

  it('shows why it is needed: the alpha ref itself stops such a backend from starting', async () => {
    const needsAlphaRef = createBackendPlugin({
      pluginId: 'strict',
      register(env) {
        env.registerInit({ deps: { meter: metricsServiceRef }, async init() {} });
      },
    });
    const backend = createSpecializedBackend({
      defaultServiceFactories: [
        mockServices.rootConfig.factory(),
        mockServices.rootLogger.factory(),
        mockServices.rootLifecycle.factory(),
        mockServices.lifecycle.factory(),
        mockServices.logger.factory(),
      ],
    });
    backend.add(needsAlphaRef);
    await expect(backend.start()).rejects.toThrow(/alpha\.core\.metrics/);
    await backend.stop().catch(() => undefined);
  });
});
