import type { JsonObject } from '@backstage/types';
import { BENCH_PLUGIN_ID } from './createBenchPlugin';
import type { ServerSpec } from './types';

/**
 * A limit no bench run reaches, so the limiter does all its work and never answers 429.
 */
const UNREACHABLE_LIMIT = 1e9;

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
        },
      },
    };
  }
  return { backend };
}
