import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import request from 'supertest';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createCountingAuthServices } from '../helpers/countingAuthServices';
import { createExamplePlugin, EXAMPLE_POLICIES } from '../helpers/createExamplePlugin';

type Backend = Awaited<ReturnType<typeof startTestBackend>>;

const ALICE = mockCredentials.user.header('user:default/alice');
const BOB = mockCredentials.user.header('user:default/bob');
const SERVICE = mockCredentials.service.header();
const INVALID = mockCredentials.user.invalidHeader();

async function startBackend(rateLimit: JsonObject) {
  const auth = createCountingAuthServices();
  const logger = mockServices.logger.mock();
  const backend = await startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...auth.features,
      mockServices.rootLogger.factory(),
      mockServices.rootConfig.factory({ data: { backend: { rateLimit } } }),
      createExamplePlugin({ pluginId: 'example', policies: EXAMPLE_POLICIES }),
      createExamplePlugin({ pluginId: 'other' }),
    ],
  });
  return { backend, verifications: auth.verifications, logger };
}

function get(backend: Backend, path: string, authorization?: string) {
  const req = request(backend.server).get(path);
  return authorization === undefined ? req : req.set('Authorization', authorization);
}

async function statuses(
  backend: Backend,
  path: string,
  authorization: string | undefined,
  n: number,
) {
  const result: number[] = [];
  for (let i = 0; i < n; i++) {
    result.push((await get(backend, path, authorization)).status);
  }
  return result;
}

describe('rate limits per verified principal, in a real backend', () => {
  describe('user, service and anonymous budgets of a plugin', () => {
    let started: Awaited<ReturnType<typeof startBackend>>;

    beforeAll(async () => {
      // Every request comes from 127.0.0.1: one address for all users, as behind a NAT.
      started = await startBackend({
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 2,
        userRequestLimit: 3,
        serviceRequestLimit: 4,
        plugin: { example: {} },
      });
    });

    afterAll(async () => {
      await started.backend.stop();
    });

    it('names the bucket in the headers and the spent budget in the body, never whose', async () => {
      const { backend } = started;
      const ok = await get(
        backend,
        '/api/example/hello',
        mockCredentials.user.header('user:default/carol'),
      );
      expect(ok.status).toBe(200);
      expect(ok.headers['ratelimit-policy']).toMatch(/^"plugin-example-user"; q=3; w=60/);
      expect(ok.headers.ratelimit).toMatch(/^"plugin-example-user"; r=2; t=\d+/);
      await statuses(
        backend,
        '/api/example/hello',
        mockCredentials.user.header('user:default/carol'),
        2,
      );
      const limited = await get(
        backend,
        '/api/example/hello',
        mockCredentials.user.header('user:default/carol'),
      );
      expect(limited.status).toBe(429);
      expect(limited.body.error).toEqual({
        name: 'TooManyRequestsError',
        message: expect.stringMatching(
          /^Too many requests: the user limit is 3 per 60 seconds; try again in \d+ seconds$/,
        ),
      });
      expect(JSON.stringify(limited.body)).not.toContain('carol');
      const anonymous = await get(backend, '/api/example/public/2');
      expect(anonymous.headers['ratelimit-policy']).toMatch(/^"plugin-example-address"; q=2;/);
    });

    it('verifies each request once: the barrier reuses the verification of the limiter', async () => {
      const { backend, verifications } = started;
      const before = verifications.count;
      expect(
        (await get(backend, '/api/example/hello', mockCredentials.user.header('user:default/dan')))
          .status,
      ).toBe(200);
      expect(verifications.count - before).toBe(1);
    });

    it('gives two users from one address their full budget each, apart from the address budget', async () => {
      const { backend } = started;
      expect(await statuses(backend, '/api/example/hello', ALICE, 4)).toEqual([200, 200, 200, 429]);
      expect(await statuses(backend, '/api/example/hello', BOB, 4)).toEqual([200, 200, 200, 429]);
      expect(await statuses(backend, '/api/example/hello', SERVICE, 5)).toEqual([
        200, 200, 200, 200, 429,
      ]);
      // The address budget: public/2 of the test above spent one of its two requests.
      expect(await statuses(backend, '/api/example/public/1', undefined, 2)).toEqual([200, 429]);
    });

    it('leaves plugins without a block unlimited, as before', async () => {
      const { backend } = started;
      expect(await statuses(backend, '/api/other/hello', ALICE, 5)).toEqual([
        200, 200, 200, 200, 200,
      ]);
    });
  });

  describe('a service budget that is unlimited, and bad credentials', () => {
    let started: Awaited<ReturnType<typeof startBackend>>;

    beforeAll(async () => {
      started = await startBackend({
        global: false,
        ipAllowList: [],
        incomingRequestLimit: 5,
        userRequestLimit: 2,
        serviceRequestLimit: 'unlimited',
        failedAuthenticationLimit: 2,
        plugin: { example: {} },
      });
    });

    afterAll(async () => {
      await started.backend.stop();
    });

    it('never counts an unlimited service, and a user spending theirs does not touch it', async () => {
      const { backend } = started;
      expect(await statuses(backend, '/api/example/hello', ALICE, 3)).toEqual([200, 200, 429]);
      const service = await statuses(backend, '/api/example/hello', SERVICE, 10);
      expect(service).toEqual(Array(10).fill(200));
      const headers = (await get(backend, '/api/example/hello', SERVICE)).headers;
      expect(headers['ratelimit-policy']).toBeUndefined();
    });

    it('cuts bad credentials off after their failed authentications, without verifying them again', async () => {
      const { backend, verifications } = started;
      const before = verifications.count;
      // Two bad tokens are verified, refused by the barrier (401) and counted.
      expect(await statuses(backend, '/api/example/hello', INVALID, 2)).toEqual([401, 401]);
      expect(verifications.count - before).toBe(2);
      // From then on, these credentials are refused before they reach httpAuth.
      const cutOff = await get(backend, '/api/example/hello', INVALID);
      expect(cutOff.status).toBe(429);
      expect(cutOff.headers['ratelimit-policy']).toMatch(
        /^"plugin-example-failed-authentication"; q=2;/,
      );
      expect(cutOff.body.error.message).toMatch(
        /^Too many requests: the failed authentication limit is 2/,
      );
      expect(verifications.count - before).toBe(2);
      // Valid credentials from the same address are verified and served.
      expect((await get(backend, '/api/example/hello', BOB)).status).toBe(200);
      // Requests without credentials never reach httpAuth, and still have their own budget.
      expect((await get(backend, '/api/example/public/1')).status).toBe(200);
    });
  });
});
