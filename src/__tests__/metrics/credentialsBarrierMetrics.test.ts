import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { METRIC_NAMES } from '../../metrics';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';

type Backend = Awaited<ReturnType<typeof startTestBackend>>;

const USER = { Authorization: mockCredentials.user.header() };
const INVALID = { Authorization: mockCredentials.user.invalidHeader() };
const COOKIE = { Cookie: mockCredentials.limitedUser.cookie() };
const INVALID_COOKIE = { Cookie: mockCredentials.limitedUser.invalidCookie() };

function startBackend(auth: JsonObject = {}): Promise<Backend> {
  return startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      mockServices.rootConfig.factory({ data: { backend: { auth } } }),
      createExamplePlugin({ pluginId: 'example', policies: EXAMPLE_POLICIES }),
    ],
  });
}

async function get(backend: Backend, path: string, headers: Record<string, string> = {}) {
  return (await request(backend.server).get(`/api/example${path}`).set(headers)).status;
}

/** The barrier's counts so far, one line per data point: name, attributes and count, sorted. */
async function barrierCounts(sdk: MetricsSdk): Promise<string[]> {
  const names: string[] = [METRIC_NAMES.authRefused, METRIC_NAMES.authPolicyAllowed];
  return (await sdk.collect())
    .filter(point => names.includes(point.name))
    .map(({ scope, name, attributes, value }) => {
      const { plugin, reason = '-', policy = '-', ...rest } = attributes;
      expect(rest).toEqual({});
      return `${scope} ${name} ${plugin} ${reason} ${policy} ${value}`;
    })
    .sort();
}

describe('credentials barrier metrics, with an OpenTelemetry SDK registered before a real backend starts', () => {
  let sdk: MetricsSdk;
  let backend: Backend | undefined;

  beforeEach(() => {
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    await backend?.stop();
    backend = undefined;
    await sdk.stop();
  });

  it('counts refused requests by reason: missing, invalid, limited_access', async () => {
    backend = await startBackend();
    expect(await get(backend, '/hello')).toBe(401);
    expect(await get(backend, '/hello')).toBe(401);
    expect(await get(backend, '/hello', INVALID)).toBe(401);
    // The cookie alone never passes where no user-cookie policy opens the path.
    expect(await get(backend, '/hello', COOKIE)).toBe(401);
    // A bad cookie where one is allowed did not verify.
    expect(await get(backend, '/cookie-ok', INVALID_COOKIE)).toBe(401);
    expect(await get(backend, '/hello', USER)).toBe(200);
    expect(await barrierCounts(sdk)).toEqual([
      `backstage-plugin-example ${METRIC_NAMES.authRefused} example invalid - 2`,
      `backstage-plugin-example ${METRIC_NAMES.authRefused} example limited_access - 1`,
      `backstage-plugin-example ${METRIC_NAMES.authRefused} example missing - 2`,
    ]);
  });

  it('counts requests let through by an unauthenticated or a user-cookie policy', async () => {
    backend = await startBackend();
    expect(await get(backend, '/public/1')).toBe(200);
    expect(await get(backend, '/public/2', USER)).toBe(200);
    expect(await get(backend, '/cookie-ok', COOKIE)).toBe(200);
    expect(await get(backend, '/cookie-ok', USER)).toBe(200);
    expect(await get(backend, '/cookie-ok', COOKIE)).toBe(200);
    expect(await get(backend, '/hello', USER)).toBe(200);
    expect(await barrierCounts(sdk)).toEqual([
      `backstage-plugin-example ${METRIC_NAMES.authPolicyAllowed} example - unauthenticated 2`,
      `backstage-plugin-example ${METRIC_NAMES.authPolicyAllowed} example - user-cookie 3`,
    ]);
  });

  it('counts nothing while the check is turned off', async () => {
    backend = await startBackend({ dangerouslyDisableDefaultAuthPolicy: true });
    expect(await get(backend, '/hello')).toBe(200);
    expect(await get(backend, '/public/1')).toBe(200);
    expect(await barrierCounts(sdk)).toEqual([]);
  });
});
