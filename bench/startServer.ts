import { startBareExpress } from './startBareExpress';
import { startFactoryBackend, type StartedBackend } from './startFactoryBackend';
import type { ServerSpec } from './types';

/**
 * Starts the server a spec describes: bare express, or a backend with one of the two factories.
 *
 * @param spec - the server to start.
 */
export async function startServer(spec: ServerSpec): Promise<StartedBackend> {
  if (spec.kind === 'bare') {
    const { port, close } = await startBareExpress();
    return { port, stop: close };
  }
  return startFactoryBackend(spec);
}
