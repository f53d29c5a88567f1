import type { LifecycleService } from '@backstage/backend-plugin-api';

/**
 * A plugin lifecycle whose startup and shutdown the test triggers, running the hooks that were added in order,
 * as Backstage's own lifecycle service does.
 */
export function createTestLifecycle() {
  const startupHooks: Array<() => void | Promise<void>> = [];
  const shutdownHooks: Array<() => void | Promise<void>> = [];
  const lifecycle: LifecycleService = {
    addStartupHook: hook => startupHooks.push(hook),
    addShutdownHook: hook => shutdownHooks.push(hook),
  };
  return {
    lifecycle,
    async startup() {
      for (const hook of startupHooks) await hook();
    },
    async shutdown() {
      for (const hook of shutdownHooks) await hook();
    },
  };
}
