import { mockServices } from '@backstage/backend-test-utils';

/** A root logger whose plugin loggers record their info lines in `messages`. */
export function createRecordingLogger() {
  const logger = mockServices.rootLogger.mock();
  const messages: string[] = [];
  const child = {
    ...logger,
    info: (message: string) => messages.push(message),
    child: () => child,
  };
  logger.child.mockReturnValue(child as never);
  return { factory: logger.factory, messages };
}
