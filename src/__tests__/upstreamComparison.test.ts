import { httpRouterServiceFactory as upstreamHttpRouterServiceFactory } from '@backstage/backend-defaults/httpRouter';
import { mockCredentials, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { httpRouterServiceFactory } from '../httpRouter/httpRouterServiceFactory';
import { createExamplePlugin, EXAMPLE_POLICIES } from './helpers/createExamplePlugin';
import { TEST_AUTH_SERVICES } from './helpers/testAuthServices';

/**
 * The same requests against a backend with upstream's httpRouter factory and one with ours must answer with the
 * same status and body shape. Deliberate differences are not in this list; they are tested where they live and
 * listed in the README under "Differences from upstream":
 * - the 503 answers of the lifecycle gate carry `Retry-After` (createLifecycleMiddleware.test.ts);
 * - policy paths in express 4 syntax are accepted instead of failing the plugin (authPolicy tests);
 * - an invalid policy throws an error naming the plugin, path and allowed values (createCredentialsBarrier.test.ts);
 * - policies match case-sensitively: `/public` does not open `/PUBLIC/1` (authPolicy/policiesInBackend.test.ts);
 * - a path with dot segments or encoded slashes is opened only if the path it resolves to is too:
 *   `/public/../hello` needs credentials (issues/issue13ReviewPaths.test.ts).
 */
const REQUESTS: Array<{
  method: 'get' | 'delete' | 'post' | 'head';
  path: string;
  headers?: Record<string, string>;
}> = [
  { method: 'get', path: '/api/example/hello' },
  {
    method: 'get',
    path: '/api/example/hello',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'get',
    path: '/api/example/hello',
    headers: { Authorization: mockCredentials.service.header() },
  },
  {
    method: 'get',
    path: '/api/example/hello',
    headers: { Authorization: mockCredentials.user.invalidHeader() },
  },
  {
    method: 'get',
    path: '/api/example/hello',
    headers: { Cookie: mockCredentials.limitedUser.cookie() },
  },
  {
    method: 'get',
    path: '/api/example/HELLO',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'get',
    path: '/api/example/hello/',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'get',
    path: '/api/example/hello?x=1',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'post',
    path: '/api/example/hello',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'get',
    path: '/api/example/cookie-ok',
    headers: { Cookie: mockCredentials.limitedUser.cookie() },
  },
  { method: 'get', path: '/api/example/cookie-ok' },
  { method: 'get', path: '/api/example/public/42' },
  { method: 'get', path: '/api/example/public' },
  { method: 'get', path: '/api/example/publicity' },
  {
    method: 'get',
    path: '/api/example/missing',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'get',
    path: '/api/example/boom',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'get',
    path: '/api/example/nowhere',
    headers: { Authorization: mockCredentials.user.header() },
  },
  { method: 'get', path: '/api/example/nowhere' },
  { method: 'get', path: '/api/example/.backstage/auth/v1/jwks.json' },
  { method: 'get', path: '/api/example/.BACKSTAGE/Auth/v1/JWKS.json/' },
  { method: 'get', path: '/api/example/.backstage/auth/v1/jwks.json?x=1' },
  { method: 'head', path: '/api/example/.backstage/auth/v1/jwks.json' },
  { method: 'post', path: '/api/example/.backstage/auth/v1/jwks.json' },
  { method: 'get', path: '/api/example/.backstage/auth/v1/jwks.jsonx' },
  { method: 'get', path: '/api/example/.backstage/auth/v1' },
  { method: 'get', path: '/api/example/.backstage/auth/v1/cookie' },
  {
    method: 'get',
    path: '/api/example/.backstage/auth/v1/cookie',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'delete',
    path: '/api/example/.backstage/auth/v1/cookie',
    headers: { Authorization: mockCredentials.user.header() },
  },
  {
    method: 'get',
    path: '/api/example/.Backstage/AUTH/v1/Cookie/',
    headers: { Authorization: mockCredentials.user.header() },
  },
  { method: 'delete', path: '/api/example/.backstage/auth/v1/cookie' },
  {
    method: 'post',
    path: '/api/example/.backstage/auth/v1/cookie',
    headers: { Authorization: mockCredentials.user.header() },
  },
];

/** Replaces every leaf value by its type, so that two bodies compare by shape. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(shapeOf);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
  }
  return typeof value;
}

async function answersOf(
  factory: typeof httpRouterServiceFactory | typeof upstreamHttpRouterServiceFactory,
) {
  const backend = await startTestBackend({
    features: [factory, ...TEST_AUTH_SERVICES, createExamplePlugin({ policies: EXAMPLE_POLICIES })],
  });
  try {
    const answers = [];
    for (const { method, path, headers = {} } of REQUESTS) {
      const res = await request(backend.server)[method](path).set(headers);
      answers.push({
        request: `${method.toUpperCase()} ${path} ${Object.keys(headers).join(',')}`,
        status: res.status,
        body: shapeOf(res.body),
        errorName: res.body?.error?.name,
      });
    }
    return answers;
  } finally {
    await backend.stop();
  }
}

describe('behaviour compared with upstream', () => {
  it('answers every request with the same status and body shape as upstream', async () => {
    const upstream = await answersOf(upstreamHttpRouterServiceFactory);
    const ours = await answersOf(httpRouterServiceFactory);
    expect(ours).toEqual(upstream);
    expect(new Set(ours.map(answer => answer.status))).toEqual(new Set([200, 204, 401, 404, 500]));
  });
});
