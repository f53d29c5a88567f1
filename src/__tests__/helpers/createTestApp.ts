import { mockServices } from '@backstage/backend-test-utils';
import express, { type Handler } from 'express';
import { createErrorHandler } from '../../middleware/createErrorHandler';

/**
 * A real express app with the given handlers and, last, the plugin error handler, so that errors answer with
 * Backstage's error body.
 */
export function createTestApp(...handlers: Handler[]): express.Express {
  const app = express();
  for (const handler of handlers) {
    app.use(handler);
  }
  app.use(createErrorHandler({ logger: mockServices.logger.mock() }));
  return app;
}
