import type { LoggerService } from '@backstage/backend-plugin-api';
import express, { type Handler } from 'express';
import { createErrorHandler } from '../../middleware/createErrorHandler';

/** A logger that drops every line, so that this helper needs no backend-test-utils, slow to import. */
const silentLogger: LoggerService = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child: () => silentLogger,
};

/**
 * A real express app with the given handlers and, last, the plugin error handler, so that errors answer with
 * Backstage's error body.
 */
export function createTestApp(...handlers: Handler[]): express.Express {
  const app = express();
  for (const handler of handlers) {
    app.use(handler);
  }
  app.use(createErrorHandler({ logger: silentLogger }));
  return app;
}
