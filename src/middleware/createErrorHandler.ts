import { randomBytes } from 'node:crypto';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { isError, serializeError, toError } from '@backstage/errors';
import type { ErrorRequestHandler } from 'express';
import { isMarkedAsLogged } from '../errors';

/** The status of each `@backstage/errors` name, for an error that carries none of its own. */
const STATUS_BY_ERROR_NAME: ReadonlyMap<string, number> = new Map(
  Object.entries({
    NotModifiedError: 304,
    InputError: 400,
    AuthenticationError: 401,
    NotAllowedError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    NotImplementedError: 501,
    ServiceUnavailableError: 503,
  }),
);

/** Options for {@link createErrorHandler}. @public */
export interface ErrorHandlerOptions {
  /** Where 5xx errors are logged. */
  logger: LoggerService;
  /** Include the stack in response bodies. Defaults to `process.env.NODE_ENV === 'development'`. */
  showStackTraces?: boolean;
}

const isStatus = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 599;

/** The status an error asks for: a whole `statusCode` or `status` in 100–599, else its name's, else 500. */
export function getErrorStatus(error: Error): number {
  const { statusCode, status } = error as { statusCode?: unknown; status?: unknown };
  return [statusCode, status].find(isStatus) ?? STATUS_BY_ERROR_NAME.get(error.name) ?? 500;
}

/**
 * Creates the error handler that ends each plugin router: Backstage's error body, 5xx logged (unless their
 * cause was logged once for many), non-errors and database errors replaced by a log id, so internals stay in.
 * @public
 */
export function createErrorHandler(options: ErrorHandlerOptions): ErrorRequestHandler {
  const { logger, showStackTraces = process.env.NODE_ENV === 'development' } = options;
  const errorLogger = logger.child({ type: 'errorHandler' });
  return function answerWithErrorBody(thrown, req, res, next) {
    let error = thrown as Error;
    if (!isError(thrown) || error.constructor?.name === 'DatabaseError') {
      const logId = randomBytes(10).toString('hex');
      const message = `Filtered internal error with logId=${logId} from response`;
      errorLogger.child({ logId }).error(message, toError(thrown));
      error = new Error(`An internal error occurred logId=${logId}`);
      delete error.stack;
    }
    const statusCode = getErrorStatus(error);
    if (statusCode >= 500 && !isMarkedAsLogged(error)) {
      errorLogger.error(`Request failed with status ${statusCode}`, error);
    }
    if (res.headersSent) return next(error);
    res.status(statusCode).json({
      error: serializeError(error, { includeStack: showStackTraces }),
      request: { method: req.method, url: req.url },
      response: { statusCode },
    });
  };
}
