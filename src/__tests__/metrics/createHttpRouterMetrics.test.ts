import { metrics } from '@opentelemetry/api';
import { createHttpRouterMetrics, METRIC_NAMES, STORE_DURATION_BUCKETS_S } from '../../metrics';
import { startMetricsSdk, type MetricsSdk, type RecordedPoint } from '../helpers/metricsSdk';

function pointsOf(points: RecordedPoint[], name: string) {
  return points
    .filter(point => point.name === name)
    .map(({ attributes, value, type, unit }) => ({ attributes, value, type, unit }));
}

describe('createHttpRouterMetrics with an OpenTelemetry SDK', () => {
  let sdk: MetricsSdk;

  beforeEach(() => {
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    await sdk.stop();
  });

  it('counts rate-limit decisions by plugin, limiter, outcome and bucket kind', async () => {
    const catalog = createHttpRouterMetrics({ pluginId: 'catalog' }).rateLimit('plugin-catalog');
    const global = createHttpRouterMetrics().rateLimit('global');
    for (let i = 0; i < 3; i++) {
      catalog.recordDecision('limited');
    }
    catalog.recordDecision('allowed');
    catalog.recordDecision('allowed', 'user');
    global.recordDecision('store_error_refuse');
    global.recordDecision('allow_listed');

    const points = pointsOf(await sdk.collect(), METRIC_NAMES.rateLimitDecisions);
    const counter = { type: 'counter', unit: '{decision}' };
    expect(points).toHaveLength(5);
    expect(points).toEqual(
      expect.arrayContaining([
        {
          ...counter,
          value: 3,
          attributes: { plugin: 'catalog', limiter: 'plugin-catalog', outcome: 'limited' },
        },
        {
          ...counter,
          value: 1,
          attributes: { plugin: 'catalog', limiter: 'plugin-catalog', outcome: 'allowed' },
        },
        {
          ...counter,
          value: 1,
          attributes: {
            plugin: 'catalog',
            limiter: 'plugin-catalog',
            outcome: 'allowed',
            bucket: 'user',
          },
        },
        { ...counter, value: 1, attributes: { limiter: 'global', outcome: 'store_error_refuse' } },
        { ...counter, value: 1, attributes: { limiter: 'global', outcome: 'allow_listed' } },
      ]),
    );
  });

  it('records the Redis wait in seconds, with error.type only when Redis did not answer', async () => {
    const limiter = createHttpRouterMetrics({ pluginId: 'catalog' }).rateLimit('plugin-catalog');
    limiter.recordStoreWait(2);
    limiter.recordStoreWait(4);
    limiter.recordStoreWait(100, 'timeout');

    const points = (await sdk.collect()).filter(
      point => point.name === METRIC_NAMES.rateLimitStoreDuration,
    );
    expect(points).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'histogram',
          unit: 's',
          attributes: { plugin: 'catalog', limiter: 'plugin-catalog' },
          count: 2,
          value: 0.006,
          boundaries: STORE_DURATION_BUCKETS_S,
        }),
        expect.objectContaining({
          attributes: { plugin: 'catalog', limiter: 'plugin-catalog', 'error.type': 'timeout' },
          count: 1,
          value: 0.1,
        }),
      ]),
    );
    expect(points).toHaveLength(2);
  });

  it('counts credentials refusals by reason and requests let through by a policy', async () => {
    const barrier = createHttpRouterMetrics({ pluginId: 'catalog' }).credentialsBarrier;
    barrier.recordRefusal('missing');
    barrier.recordRefusal('missing');
    barrier.recordRefusal('invalid');
    barrier.recordRefusal('limited_access');
    barrier.recordPolicyAllowed('unauthenticated');
    barrier.recordPolicyAllowed('user-cookie');
    barrier.recordPolicyAllowed('user-cookie');

    const points = await sdk.collect();
    expect(pointsOf(points, METRIC_NAMES.authRefused)).toEqual(
      expect.arrayContaining([
        {
          type: 'counter',
          unit: '{request}',
          value: 2,
          attributes: { plugin: 'catalog', reason: 'missing' },
        },
        {
          type: 'counter',
          unit: '{request}',
          value: 1,
          attributes: { plugin: 'catalog', reason: 'invalid' },
        },
        {
          type: 'counter',
          unit: '{request}',
          value: 1,
          attributes: { plugin: 'catalog', reason: 'limited_access' },
        },
      ]),
    );
    expect(pointsOf(points, METRIC_NAMES.authRefused)).toHaveLength(3);
    expect(pointsOf(points, METRIC_NAMES.authPolicyAllowed)).toEqual([
      {
        type: 'counter',
        unit: '{request}',
        value: 1,
        attributes: { plugin: 'catalog', policy: 'unauthenticated' },
      },
      {
        type: 'counter',
        unit: '{request}',
        value: 2,
        attributes: { plugin: 'catalog', policy: 'user-cookie' },
      },
    ]);
  });

  it('counts lifecycle 503s by reason and follows the number of waiting requests up and down', async () => {
    const gate = createHttpRouterMetrics({ pluginId: 'catalog' }).lifecycleGate;
    gate.addWaiting(1);
    gate.addWaiting(1);
    gate.addWaiting(1);
    gate.addWaiting(-1);
    gate.recordRejection('startup_timeout');
    gate.recordRejection('shutdown');

    const points = await sdk.collect();
    expect(pointsOf(points, METRIC_NAMES.lifecycleWaiting)).toEqual([
      { type: 'up_down_counter', unit: '{request}', value: 2, attributes: { plugin: 'catalog' } },
    ]);
    expect(pointsOf(points, METRIC_NAMES.lifecycleRejected)).toEqual([
      {
        type: 'counter',
        unit: '{request}',
        value: 1,
        attributes: { plugin: 'catalog', reason: 'startup_timeout' },
      },
      {
        type: 'counter',
        unit: '{request}',
        value: 1,
        attributes: { plugin: 'catalog', reason: 'shutdown' },
      },
    ]);
  });

  it('creates the instruments once per meter, so that plugins sharing a meter add up in one metric', async () => {
    const meter = metrics.getMeter('shared');
    const createCounter = jest.spyOn(meter, 'createCounter');
    createHttpRouterMetrics({ meter, pluginId: 'a' }).lifecycleGate.recordRejection('shutdown');
    createHttpRouterMetrics({ meter, pluginId: 'b' }).lifecycleGate.recordRejection('shutdown');

    expect(createCounter).toHaveBeenCalledTimes(5);
    const points = (await sdk.collect()).filter(
      point => point.name === METRIC_NAMES.lifecycleRejected,
    );
    expect(points.map(point => [point.scope, point.attributes.plugin, point.value])).toEqual([
      ['shared', 'a', 1],
      ['shared', 'b', 1],
    ]);
  });

  it('uses the meter it is given, such as a plugin-scoped metrics service', async () => {
    createHttpRouterMetrics({
      meter: metrics.getMeter('backstage-plugin-catalog'),
      pluginId: 'catalog',
    }).credentialsBarrier.recordRefusal('missing');
    createHttpRouterMetrics().rateLimit('global').recordDecision('allowed');

    const scopes = (await sdk.collect()).map(point => [point.scope, point.name]);
    expect(scopes).toEqual([
      ['backstage-plugin-catalog', METRIC_NAMES.authRefused],
      ['backstage-http-router', METRIC_NAMES.rateLimitDecisions],
    ]);
  });
});

describe('createHttpRouterMetrics without an OpenTelemetry SDK', () => {
  it('records nothing and throws nothing, even once an SDK is registered later', async () => {
    const recorded = createHttpRouterMetrics({ pluginId: 'catalog' });
    const limiter = recorded.rateLimit('plugin-catalog');
    expect(() => {
      limiter.recordDecision('limited');
      limiter.recordStoreWait(3, 'error');
      recorded.credentialsBarrier.recordRefusal('missing');
      recorded.credentialsBarrier.recordPolicyAllowed('unauthenticated');
      recorded.lifecycleGate.addWaiting(1);
      recorded.lifecycleGate.recordRejection('shutdown');
    }).not.toThrow();

    const sdk = startMetricsSdk();
    try {
      limiter.recordDecision('limited');
      expect(await sdk.collect()).toEqual([]);
    } finally {
      await sdk.stop();
    }
  });
});
