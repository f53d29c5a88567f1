import type { LoggerService } from '@backstage/backend-plugin-api';
import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';

/** One line a backend logged. */
export interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  meta?: Error | JsonObject;
}

/**
 * A root logger for `startTestBackend` that keeps every line that any plugin or service logs, through any child.
 *
 * @remarks
 * Add `factory` to the backend's features; read `lines`, or `messages(level)`, to count what was logged.
 */
export function createLogCollector() {
  const lines: LogLine[] = [];
  const root = mockServices.rootLogger.mock();
  const collector: LoggerService = {
    error: (message, meta) => void lines.push({ level: 'error', message, meta }),
    warn: (message, meta) => void lines.push({ level: 'warn', message, meta }),
    info: (message, meta) => void lines.push({ level: 'info', message, meta }),
    debug: (message, meta) => void lines.push({ level: 'debug', message, meta }),
    child: () => collector,
  };
  root.child.mockReturnValue(collector as never);
  return {
    factory: root.factory,
    lines,
    messages: (level: LogLine['level']) =>
      lines.filter(line => line.level === level).map(line => line.message),
  };
}
