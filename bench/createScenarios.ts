import { ROUTE_RULE_COUNT } from './createBackendConfig';
import type { RateLimitStoreType, Scenario, ServerKind, ServerSpec, Stack, Variant } from './types';

/** What `startTestBackend`'s mock auth turns into service credentials. */
export const SERVICE_TOKEN_HEADERS = { authorization: 'Bearer mock-service-token' };

/** What `startTestBackend`'s mock auth turns into user credentials (`user:default/mock`). */
export const USER_TOKEN_HEADERS = { authorization: 'Bearer mock-user-token' };

/** Policy counts for the matcher scenarios; the first is the baseline of the targets. */
export const POLICY_COUNTS = [1, 10, 100, 1000];

/** Length of the long-path scenario's request path. */
export const LONG_PATH_BYTES = 64 * 1024;

const PUBLIC_PATH = '/api/test/public/x';
const PRIVATE_PATH = '/api/test/private/x';

function server(
  kind: ServerKind,
  stack: Stack,
  policies = 0,
  rateLimit?: RateLimitStoreType,
): ServerSpec {
  return { kind, stack, policies, rateLimit };
}

function threeSides(stack: Stack, request: Variant['request']): Variant[] {
  return [
    {
      id: 'bare',
      label: 'bare express',
      server: server('bare', stack),
      request,
      expectStatus: [200],
    },
    { id: 'ours', label: 'ours', server: server('ours', stack), request, expectStatus: [200] },
    {
      id: 'upstream',
      label: 'upstream',
      server: server('upstream', stack),
      request,
      expectStatus: [200],
    },
  ];
}

function policyVariants(matching: 'last' | 'none'): Variant[] {
  const sides: Array<{ kind: ServerKind; counts: number[] }> = [
    { kind: 'ours', counts: POLICY_COUNTS },
    { kind: 'upstream', counts: [POLICY_COUNTS[0], POLICY_COUNTS[POLICY_COUNTS.length - 1]] },
  ];
  return sides.flatMap(({ kind, counts }) =>
    counts.map(count => ({
      id: `${kind}-${count}`,
      label: `${kind === 'ours' ? 'ours' : 'upstream'}, ${count.toLocaleString('en')} ${count === 1 ? 'policy' : 'policies'}`,
      server: server(kind, 'plugin', count),
      request:
        matching === 'last'
          ? { path: `/api/test/p${count - 1}/x` }
          : { path: PRIVATE_PATH, headers: SERVICE_TOKEN_HEADERS },
      expectStatus: [200],
    })),
  );
}

/** A path that no policy covers, so every matcher is tried before the 401. */
function longPath(): string {
  const prefix = '/api/test/';
  return (
    prefix +
    'ab/'
      .repeat(Math.ceil((LONG_PATH_BYTES - prefix.length) / 3))
      .slice(0, LONG_PATH_BYTES - prefix.length)
  );
}

/**
 * The scenarios, in the order they run.
 *
 * @remarks
 * `full/*` put upstream's production root router in front; `plugin/*` measure the plugin stack alone,
 * which is what the targets are about. Every policy scenario has `/public` plus N numbered policies
 * (see `createPolicyPaths`); "none" sends a service token to a path none of them covers, so it still
 * answers 200 after the matcher has tried them all.
 */
export function createScenarios(): Scenario[] {
  const max = POLICY_COUNTS[POLICY_COUNTS.length - 1];
  const rateLimited = (store: RateLimitStoreType, kind: 'ours' | 'upstream' = 'ours'): Variant => ({
    id: `${kind}-${store}`,
    label: `${kind}, ${store} store`,
    server: server(kind, 'plugin', 0, store),
    request: { path: PUBLIC_PATH },
    expectStatus: [200],
    expectRateLimitHeaders: true,
    expectRedisKeys: store === 'redis',
  });
  return [
    {
      id: 'full/public',
      title: 'Full backend: unauthenticated policy route',
      variants: threeSides('full', { path: PUBLIC_PATH }),
    },
    {
      id: 'full/service-token',
      title: 'Full backend: authenticated route, service token',
      variants: threeSides('full', { path: PRIVATE_PATH, headers: SERVICE_TOKEN_HEADERS }),
    },
    {
      id: 'plugin/public',
      title: 'Plugin stack: unauthenticated policy route',
      variants: threeSides('plugin', { path: PUBLIC_PATH }),
    },
    {
      id: 'plugin/service-token',
      title: 'Plugin stack: authenticated route, service token',
      variants: threeSides('plugin', { path: PRIVATE_PATH, headers: SERVICE_TOKEN_HEADERS }),
    },
    {
      id: 'plugin/policies-last',
      title: 'Plugin stack: N policies, request matches the last one (no credentials)',
      variants: policyVariants('last'),
    },
    {
      id: 'plugin/policies-none',
      title: 'Plugin stack: N policies, request matches none (service token)',
      variants: policyVariants('none'),
    },
    {
      id: 'plugin/long-path',
      title: `Plugin stack: ${LONG_PATH_BYTES / 1024} KiB path, ${max.toLocaleString('en')} policies, no credentials`,
      variants: (['ours', 'upstream'] as const).map(kind => ({
        id: kind,
        label: kind,
        server: server(kind, 'plugin', max),
        request: { path: longPath() },
        expectStatus: [401, 404],
      })),
    },
    {
      id: 'plugin/rate-limit',
      title: 'Plugin stack: per-plugin rate limiting, unauthenticated policy route',
      variants: [
        {
          id: 'ours-off',
          label: 'ours, no rate limiting',
          server: server('ours', 'plugin'),
          request: { path: PUBLIC_PATH },
          expectStatus: [200],
        },
        rateLimited('memory'),
        rateLimited('redis'),
      ],
    },
    {
      id: 'plugin/rate-limit-principal',
      title: 'Plugin stack: user token, rate limiting per address and per verified principal',
      variants: (['memory', 'redis'] as const).flatMap(store =>
        [false, true].map(perPrincipal => ({
          id: `ours-${store}-${perPrincipal ? 'principal' : 'address'}`,
          label: `ours, ${store} store, per ${perPrincipal ? 'principal' : 'address'}`,
          server: { ...server('ours', 'plugin', 0, store), perPrincipal, realHttpAuth: true },
          request: { path: PRIVATE_PATH, headers: USER_TOKEN_HEADERS },
          expectStatus: [200],
          expectRateLimitHeaders: true,
          expectRedisKeys: store === 'redis',
        })),
      ),
    },
    {
      id: 'plugin/rate-limit-routes',
      title: `Plugin stack: per-plugin rate limiting, memory store, with ${ROUTE_RULE_COUNT} route rules or none`,
      variants: [
        { ...rateLimited('memory'), id: 'ours-no-rules', label: 'ours, no route rules' },
        {
          ...rateLimited('memory'),
          id: 'ours-rules-none',
          label: `ours, ${ROUTE_RULE_COUNT} rules, request matches none`,
          server: { ...server('ours', 'plugin', 0, 'memory'), routeRules: true },
          request: { path: '/api/test/public' },
          expectPolicies: ['plugin-test'],
        },
        {
          ...rateLimited('memory'),
          id: 'ours-rules-one',
          label: `ours, ${ROUTE_RULE_COUNT} rules, request matches one`,
          server: { ...server('ours', 'plugin', 0, 'memory'), routeRules: true },
          expectPolicies: ['plugin-test', `plugin-test-route-${ROUTE_RULE_COUNT - 1}`],
        },
      ],
    },
    {
      id: 'plugin/metrics',
      title:
        'Plugin stack: metrics recorded into a real OpenTelemetry SDK, or into the no-op meter (rate limiting on, unauthenticated policy route)',
      variants: (['memory', 'redis'] as const).flatMap(store =>
        [false, true].map(metricsSdk => ({
          ...rateLimited(store),
          id: `ours-${store}${metricsSdk ? '-otel' : ''}`,
          label: `ours, ${store} store, ${metricsSdk ? 'OpenTelemetry SDK' : 'no SDK'}`,
          server: { ...server('ours', 'plugin', 0, store), metricsSdk },
        })),
      ),
    },
    {
      id: 'plugin/rate-limit-upstream',
      title: 'Plugin stack: upstream with per-plugin rate limiting, for comparison',
      variants: [
        {
          id: 'upstream-off',
          label: 'upstream, no rate limiting',
          server: server('upstream', 'plugin'),
          request: { path: PUBLIC_PATH },
          expectStatus: [200],
        },
        rateLimited('memory', 'upstream'),
        rateLimited('redis', 'upstream'),
      ],
    },
  ];
}
