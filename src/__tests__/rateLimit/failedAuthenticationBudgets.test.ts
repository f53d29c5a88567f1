import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createCountingAuthServices } from '../helpers/countingAuthServices';
import { createExamplePlugin } from '../helpers/createExamplePlugin';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';

type Backend = Awaited<ReturnType<typeof startTestBackend>>;

const ALICE = mockCredentials.user.header('user:default/alice');
const SERVICE = mockCredentials.service.header();
const INVALID = mockCredentials.user.invalidHeader();

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

const STORES: Array<[string, () => JsonObject]> = [
  ['memory', () => ({ type: 'memory' })],
  ['redis', () => ({ type: 'redis', connection: redis.url, timeout: { seconds: 2 } })],
];

let prefix = 0;
async function startBackend(rateLimit: JsonObject) {
  const auth = createCountingAuthServices();
  // Each backend counts under its own plugin id, so that backends on one Redis do not share counts.
  const pluginId = `example${(prefix += 1)}`;
  const backend = await startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...auth.features,
      mockServices.rootLogger.factory(),
      mockServices.rootConfig.factory({
        data: { backend: { rateLimit: { ...rateLimit, plugin: { [pluginId]: {} } } } },
      }),
      createExamplePlugin({ pluginId }),
    ],
  });
  const statuses = async (authorization: string | ((i: number) => string), n: number) => {
    const result: number[] = [];
    for (let i = 0; i < n; i++) {
      const header = typeof authorization === 'string' ? authorization : authorization(i);
      const res = await request(backend.server)
        .get(`/api/${pluginId}/hello`)
        .set('Authorization', header);
      result.push(res.status);
    }
    return result;
  };
  return { backend, verifications: auth.verifications, statuses, pluginId };
}

describe.each(STORES)('failed authentications with the %s store', (_name, store) => {
  let started: Awaited<ReturnType<typeof startBackend>> & { backend: Backend };
  afterEach(async () => {
    await started.backend.stop();
  });

  it('serves a valid user and a valid service token from an address that sent 100 bad tokens', async () => {
    started = await startBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 1000,
      userRequestLimit: 50,
      serviceRequestLimit: 50,
      failedAuthenticationLimit: 20,
      store: store(),
    });
    const { statuses, verifications } = started;
    const bad = await statuses(INVALID, 100);
    expect(bad.filter(status => status === 401)).toHaveLength(20);
    expect(bad.filter(status => status === 429)).toHaveLength(80);
    // The same bad token repeated past the limit is refused without being verified again.
    expect(verifications.count).toBe(20);
    expect(await statuses(ALICE, 2)).toEqual([200, 200]);
    expect(await statuses(SERVICE, 2)).toEqual([200, 200]);
  });

  it('bounds distinct bad tokens by the address budget, then refuses them before verifying', async () => {
    started = await startBackend({
      global: false,
      ipAllowList: [],
      incomingRequestLimit: 5,
      userRequestLimit: 50,
      failedAuthenticationLimit: 2,
      store: store(),
    });
    const { statuses, verifications } = started;
    // Alice's token verified before the address spent its budget, so it still passes on her own budget.
    expect(await statuses(ALICE, 1)).toEqual([200]);
    expect(await statuses(i => `Bearer bad-${i}`, 8)).toEqual([
      401, 401, 401, 401, 401, 429, 429, 429,
    ]);
    expect(verifications.count).toBe(1 + 5);
    expect(await statuses(ALICE, 2)).toEqual([200, 200]);
    // A credential not seen lately from an address over its budget waits for the window to end.
    const before = verifications.count;
    expect(await statuses(SERVICE, 1)).toEqual([429]);
    expect(verifications.count).toBe(before);
  });
});
