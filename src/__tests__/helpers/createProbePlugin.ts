import {
  coreServices,
  createBackendPlugin,
  type BackendFeature,
  type HttpRouterService,
} from '@backstage/backend-plugin-api';

/**
 * A plugin (`probe` by default) that hands its httpRouter to `use` during its init.
 *
 * @param use - Called once with the plugin's httpRouter.
 */
export function createProbePlugin(
  use: (http: HttpRouterService) => void | Promise<void>,
  pluginId = 'probe',
): BackendFeature {
  return createBackendPlugin({
    pluginId,
    register(env) {
      env.registerInit({
        deps: { http: coreServices.httpRouter },
        async init({ http }) {
          await use(http);
        },
      });
    },
  });
}
