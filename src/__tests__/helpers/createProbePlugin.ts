import {
  coreServices,
  createBackendPlugin,
  type BackendFeature,
  type HttpRouterService,
} from '@backstage/backend-plugin-api';

/**
 * A plugin `probe` that hands its httpRouter to `use` during its init, for tests of what the router offers.
 *
 * @param use - Called once with the plugin's httpRouter.
 */
export function createProbePlugin(use: (http: HttpRouterService) => void): BackendFeature {
  return createBackendPlugin({
    pluginId: 'probe',
    register(env) {
      env.registerInit({
        deps: { http: coreServices.httpRouter },
        async init({ http }) {
          use(http);
        },
      });
    },
  });
}
