import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';

/** A public key shaped like the ones a plugin publishes; the mock auth service has none of its own. */
export const TEST_PUBLIC_KEY = { kty: 'EC', crv: 'P-256', kid: 'test-key', x: 'x', y: 'y' };

/**
 * Backstage's mock auth, with `listPublicServiceKeys` answering {@link TEST_PUBLIC_KEY} (the mock throws
 * "not implemented" there).
 */
export const testAuthServiceFactory = createServiceFactory({
  service: coreServices.auth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }) {
    const auth = mockServices.auth({ pluginId: plugin.getId() });
    auth.listPublicServiceKeys = async () => ({ keys: [TEST_PUBLIC_KEY] });
    return auth;
  },
});

/** Backstage's mock httpAuth, where a request without a token has no credentials (the mock's default is a user). */
export const testHttpAuthServiceFactory = mockServices.httpAuth.factory({
  defaultCredentials: mockCredentials.none(),
});

/** The auth services every real-backend test uses. */
export const TEST_AUTH_SERVICES = [testAuthServiceFactory, testHttpAuthServiceFactory];
