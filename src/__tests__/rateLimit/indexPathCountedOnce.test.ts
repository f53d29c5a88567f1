import { mockCredentials } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { rootHttpRouterServiceFactory } from '../../httpRouter/rootHttpRouterServiceFactory';
import { startRootRouterBackend } from '../helpers/startRootRouterBackend';

const COOKIE = { cookie: `backstage-auth=${mockCredentials.user.token()}` };

/** The `RateLimit` header of each of three requests to `path`, through a root router whose index is the plugin. */
async function remaining(rateLimit: JsonObject, path: string, headers: Record<string, string>) {
  const backend = await startRootRouterBackend(
    rootHttpRouterServiceFactory({ indexPath: '/api/example' }),
    { rateLimit },
  );
  try {
    const seen = [];
    for (let i = 0; i < 3; i++) {
      seen.push((await fetch(`${backend.baseUrl}${path}`, { headers })).headers.get('ratelimit'));
    }
    return seen;
  } finally {
    await backend.stop();
  }
}

describe("requests served through the root router's index path", () => {
  it('are counted once in the all-plugins budgets, with or without credentials', async () => {
    const rateLimit = { ipAllowList: [], incomingRequestLimit: 4, userRequestLimit: 5 };
    const expected = ['"global"; r=3; t=60', '"global"; r=2; t=60', '"global"; r=1; t=60'];
    expect(await remaining(rateLimit, '/hello', COOKIE)).toEqual(expected);
    expect(await remaining(rateLimit, '/hello', {})).toEqual(expected);
  });

  it("are counted once in the plugin's budgets and once in the all-plugins ones", async () => {
    const rateLimit = { ipAllowList: [], incomingRequestLimit: 4, plugin: { example: {} } };
    expect(await remaining(rateLimit, '/hello', COOKIE)).toEqual(
      [1, 2, 3].map(
        spent => `"global"; r=${4 - spent}; t=60, "plugin-example"; r=${4 - spent}; t=60`,
      ),
    );
  });
});
