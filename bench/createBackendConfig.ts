import type { JsonObject } from '@backstage/types';
import { BENCH_PLUGIN_ID } from './createBenchPlugin';
import type { ServerSpec } from './types';

/**
 * A limit no bench run reaches, so the limiter does all its work and never answers 429.
 */
const UNREACHABLE_LIMIT = 1e9;

/** How many route rules `routeRules` adds. */
export const ROUTE_RULE_COUNT = 20;

/**
 * Route rules with unreachable limits: `/rK/:id`, half of them for GET (so their matchers run) and half for POST;
 * the last one counts `GET /public/:id`, so `/public/x` matches one rule and `/public` none.
 */
function routeRules(): JsonObject[] {
  return Array.from({ length: ROUTE_RULE_COUNT }, (_, index) => {
    const last = index === ROUTE_RULE_COUNT - 1;
    return {
      path: last ? '/public/:id' : `/r${index}/:id`,
      method: last || index % 2 === 0 ? 'GET' : 'POST',
      incomingRequestLimit: UNREACHABLE_LIMIT,
    };
  });
}

/**
 * The root config of a factory backend; the same for both factories.
 *
 * @remarks
 * The full stack listens on 127.0.0.1 at a port the OS picks. With `rateLimit` set, only the plugin's
 * own limiter is on (`global: false`), with the store from the top-level block and an empty
 * `ipAllowList`: the default list holds the loopback addresses, which would skip every bench request.
 * Upstream reads the same `plugin.<pluginId>` block, so the config suits both factories. `perPrincipal` adds
 * `userRequestLimit`, which only ours reads.
 *
 * @param spec - the server to configure.
 */
export function createBackendConfig(spec: ServerSpec): JsonObject {
  const backend: JsonObject = {
    baseUrl: 'http://127.0.0.1',
    listen: { host: '127.0.0.1', port: 0 },
  };
  if (spec.rateLimit) {
    backend.rateLimit = {
      global: false,
      store:
        spec.rateLimit === 'redis'
          ? { type: 'redis', connection: spec.redisUrl ?? '' }
          : { type: 'memory' },
      plugin: {
        [BENCH_PLUGIN_ID]: {
          window: '1m',
          incomingRequestLimit: UNREACHABLE_LIMIT,
          ipAllowList: [],
          ...(spec.perPrincipal ? { userRequestLimit: UNREACHABLE_LIMIT } : {}),
          ...(spec.routeRules ? { routes: routeRules() } : {}),
        },
      },
    };
  }
  return { backend };
}
