import { redisConnectionAttribute, registerRedisFallbackProbe } from '../../redis/fallbackProbe';
import { METRIC_NAMES } from '../../metrics';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';

describe('registerRedisFallbackProbe', () => {
  let sdk: MetricsSdk;
  const unregister: Array<() => void> = [];

  beforeEach(() => {
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    unregister.splice(0).forEach(remove => remove());
    await sdk.stop();
  });

  const gauge = async () =>
    (await sdk.collect())
      .filter(point => point.name === METRIC_NAMES.redisFallback)
      .map(point => [point.type, point.unit, point.attributes.connection, point.value]);

  it('reads 1 while the connection is in fallback and 0 once it is back', async () => {
    let inFallback = false;
    unregister.push(registerRedisFallbackProbe('redis://127.0.0.1:6390', () => inFallback));

    expect(await gauge()).toEqual([['gauge', '1', 'redis://127.0.0.1:6390', 0]]);
    inFallback = true;
    expect(await gauge()).toEqual([['gauge', '1', 'redis://127.0.0.1:6390', 1]]);
    inFallback = false;
    expect(await gauge()).toEqual([['gauge', '1', 'redis://127.0.0.1:6390', 0]]);
  });

  it('shows one value per connection: 1 when any of its clients is in fallback', async () => {
    unregister.push(
      registerRedisFallbackProbe('redis://a:6379', () => false),
      registerRedisFallbackProbe('redis://a:6379', () => true),
      registerRedisFallbackProbe('redis://b:6379', () => false),
    );
    expect(await gauge()).toEqual([
      ['gauge', '1', 'redis://a:6379', 1],
      ['gauge', '1', 'redis://b:6379', 0],
    ]);
  });

  it('drops a connection once its probe is removed, and a probe that throws hides no other', async () => {
    const removeA = registerRedisFallbackProbe('redis://a:6379', () => true);
    unregister.push(
      registerRedisFallbackProbe('redis://b:6379', () => {
        throw new Error('boom');
      }),
      registerRedisFallbackProbe('redis://c:6379', () => true),
    );
    removeA();
    removeA();
    expect(await gauge()).toEqual([
      ['gauge', '1', 'redis://b:6379', 0],
      ['gauge', '1', 'redis://c:6379', 1],
    ]);
  });

  it('reads 0 for a connection closed while in fallback, where the SDK would keep showing its last 1', async () => {
    const removeA = registerRedisFallbackProbe('redis://a:6379', () => true);
    unregister.push(registerRedisFallbackProbe('redis://b:6379', () => true));
    expect(await gauge()).toEqual([
      ['gauge', '1', 'redis://a:6379', 1],
      ['gauge', '1', 'redis://b:6379', 1],
    ]);

    removeA();
    expect(await gauge()).toEqual([
      ['gauge', '1', 'redis://a:6379', 0],
      ['gauge', '1', 'redis://b:6379', 1],
    ]);
  });

  it('reads 0 for the last connection closed while in fallback too', async () => {
    const remove = registerRedisFallbackProbe('redis://a:6379', () => true);
    expect(await gauge()).toEqual([['gauge', '1', 'redis://a:6379', 1]]);

    remove();
    expect(await gauge()).toEqual([['gauge', '1', 'redis://a:6379', 0]]);
    expect(await gauge()).toEqual([['gauge', '1', 'redis://a:6379', 0]]);
  });

  it('reports on a new SDK after the last probe of the previous one was removed', async () => {
    registerRedisFallbackProbe('redis://a:6379', () => true)();
    await sdk.stop();
    sdk = startMetricsSdk();
    unregister.push(registerRedisFallbackProbe('redis://b:6379', () => true));
    expect(await gauge()).toEqual([['gauge', '1', 'redis://b:6379', 1]]);
  });
});

describe('redisConnectionAttribute', () => {
  it.each([
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['redis://:secret@cache:6379/2', 'redis://cache:6379/2'],
    ['rediss://user:p%40ss@cache.example:6380', 'rediss://cache.example:6380'],
    ['redis://[::1]:6379', 'redis://[::1]:6379'],
    ['not a url with a p@ssword', '(invalid connection)'],
    ['redis://cache:6379/0?password=secret#frag', 'redis://cache:6379/0'],
  ])('%s gives %s', (input, expected) => {
    expect(redisConnectionAttribute(input)).toBe(expected);
  });

  it('names a value that is neither a string nor a list, as an unreadable config can give', () => {
    expect(redisConnectionAttribute(6379 as unknown as string)).toBe('(invalid connection)');
  });

  it('joins the URLs of a cluster, each without credentials', () => {
    expect(redisConnectionAttribute(['redis://u:p@a:7000', 'redis://u:p@b:7001'])).toBe(
      'redis://a:7000,redis://b:7001',
    );
  });
});
