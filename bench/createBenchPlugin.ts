import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import { createOkRouter } from './createOkRouter';
import { createPolicyPaths } from './createPolicyPaths';

/** The plugin id, and so the mount path `/api/test`. */
export const BENCH_PLUGIN_ID = 'test';

/**
 * The plugin every factory backend runs: `/public` open, then `policies` numbered open paths.
 *
 * @param policies - how many numbered `unauthenticated` policies to add after `/public`.
 */
export function createBenchPlugin(policies: number) {
  return createBackendPlugin({
    pluginId: BENCH_PLUGIN_ID,
    register(env) {
      env.registerInit({
        deps: { http: coreServices.httpRouter },
        async init({ http }) {
          http.addAuthPolicy({ path: '/public', allow: 'unauthenticated' });
          for (const path of createPolicyPaths(policies)) {
            http.addAuthPolicy({ path, allow: 'unauthenticated' });
          }
          http.use(createOkRouter());
        },
      });
    },
  });
}
