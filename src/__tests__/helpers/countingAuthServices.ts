import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { mockServices } from '@backstage/backend-test-utils';
import { TEST_PUBLIC_KEY } from './testAuthServices';

/**
 * Backstage's real httpAuth (which caches each request's credentials) over Backstage's mock auth, counting every
 * token verification (`auth.authenticate`), so that tests can prove how often credentials were verified.
 */
export function createCountingAuthServices() {
  const verifications = { count: 0 };
  const authFactory = createServiceFactory({
    service: coreServices.auth,
    deps: { plugin: coreServices.pluginMetadata },
    factory({ plugin }) {
      const auth = mockServices.auth({ pluginId: plugin.getId() });
      auth.listPublicServiceKeys = async () => ({ keys: [TEST_PUBLIC_KEY] });
      const authenticate = auth.authenticate.bind(auth);
      auth.authenticate = async (...args) => {
        verifications.count += 1;
        return authenticate(...args);
      };
      return auth;
    },
  });
  return { verifications, features: [authFactory, httpAuthServiceFactory] };
}
