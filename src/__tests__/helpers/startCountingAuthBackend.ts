import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createCountingAuthServices } from './countingAuthServices';
import { createExamplePlugin } from './createExamplePlugin';
import { createLogCollector } from './createLogCollector';

/**
 * Starts a real backend with our `httpRouter` factory, Backstage's real httpAuth over counting mock auth, a log
 * collector and one example plugin per id, configured with `backend.rateLimit` set to `rateLimit`.
 */
export function startCountingAuthBackend(
  rateLimit: JsonObject,
  logs = createLogCollector(),
  pluginIds: string[] = ['example'],
) {
  return startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...createCountingAuthServices().features,
      logs.factory,
      mockServices.rootConfig.factory({ data: { backend: { rateLimit } } }),
      ...pluginIds.map(pluginId => createExamplePlugin({ pluginId })),
    ],
  });
}
