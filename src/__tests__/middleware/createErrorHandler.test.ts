import type { LoggerService } from '@backstage/backend-plugin-api';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  ServiceUnavailableError,
} from '@backstage/errors';
import express from 'express';
import request from 'supertest';
import { createErrorHandler, getErrorStatus } from '../../middleware/createErrorHandler';
import { markAsLogged } from '../../errors';

/** A logger that records its calls; its children are one other such logger, returned as `errorLogger`. */
function createLoggers() {
  const mock = () => ({
    error: jest.fn(),
    warn: jest.fn(),
    info: jest.fn(),
    debug: jest.fn(),
    child: jest.fn(),
  });
  const logger = mock();
  const errorLogger = mock();
  logger.child.mockReturnValue(errorLogger);
  errorLogger.child.mockReturnValue(errorLogger);
  return { logger: logger as LoggerService, errorLogger };
}

function setup(thrown: unknown, options: { showStackTraces?: boolean } = {}) {
  const { logger, errorLogger } = createLoggers();
  const app = express();
  app.get('/fail', () => {
    throw thrown;
  });
  app.use(createErrorHandler({ logger, ...options }));
  return { app, errorLogger };
}

function withStatus(field: 'status' | 'statusCode', value: unknown) {
  return Object.assign(new Error('custom'), { [field]: value });
}

describe('getErrorStatus', () => {
  it.each<[string, Error, number]>([
    ['NotModifiedError', new NotModifiedError(), 304],
    ['InputError', new InputError('x'), 400],
    ['AuthenticationError', new AuthenticationError('x'), 401],
    ['NotAllowedError', new NotAllowedError('x'), 403],
    ['NotFoundError', new NotFoundError('x'), 404],
    ['ConflictError', new ConflictError('x'), 409],
    ['NotImplementedError', new NotImplementedError('x'), 501],
    ['ServiceUnavailableError', new ServiceUnavailableError('x'), 503],
    ['a plain Error', new Error('x'), 500],
    ['statusCode 429', withStatus('statusCode', 429), 429],
    ['status 418', withStatus('status', 418), 418],
    ['statusCode out of range', withStatus('statusCode', 700), 500],
    ['statusCode not whole', withStatus('statusCode', 404.5), 500],
    ['statusCode as a string', withStatus('statusCode', '404'), 500],
  ])('maps %s to %i', (_name, error, status) => {
    expect(getErrorStatus(error)).toBe(status);
  });
});

describe('createErrorHandler', () => {
  it('answers with the Backstage error body and does not log a 4xx', async () => {
    const { app, errorLogger } = setup(new NotFoundError('no such thing'));
    const res = await request(app).get('/fail?x=1');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: { name: 'NotFoundError', message: 'no such thing' },
      request: { method: 'GET', url: '/fail?x=1' },
      response: { statusCode: 404 },
    });
    expect(errorLogger.error).not.toHaveBeenCalled();
  });

  it('logs a 5xx and hides the stack unless asked', async () => {
    const { app, errorLogger } = setup(new Error('broken'));
    const res = await request(app).get('/fail');
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({ name: 'Error', message: 'broken' });
    expect(errorLogger.error).toHaveBeenCalledWith(
      'Request failed with status 500',
      expect.any(Error),
    );
  });

  it('includes the stack when showStackTraces is set', async () => {
    const { app } = setup(new Error('broken'), { showStackTraces: true });
    const res = await request(app).get('/fail');
    expect(res.body.error.stack).toContain('Error: broken');
  });

  it('replaces a thrown non-error by a generic error with a log id', async () => {
    const { app, errorLogger } = setup('a string with secrets');
    const res = await request(app).get('/fail');
    expect(res.status).toBe(500);
    expect(res.body.error.message).toMatch(/^An internal error occurred logId=[0-9a-f]{20}$/);
    expect(JSON.stringify(res.body)).not.toContain('secrets');
    const logId = /logId=([0-9a-f]{20})$/.exec(res.body.error.message)?.[1];
    expect(errorLogger.child).toHaveBeenCalledWith({ logId });
    expect(errorLogger.error).toHaveBeenCalledWith(
      `Filtered internal error with logId=${logId} from response`,
      expect.any(Error),
    );
  });

  it('passes the error on when headers were already sent', async () => {
    const { logger } = createLoggers();
    const app = express();
    const seen: unknown[] = [];
    app.get('/late', (_req, res, next) => {
      res.status(200).write('partial');
      next(new Error('late failure'));
    });
    app.use(createErrorHandler({ logger }));
    app.use(
      (err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        seen.push(err);
        res.end();
      },
    );
    const res = await request(app).get('/late');
    expect(res.status).toBe(200);
    expect(res.text).toBe('partial');
    expect(seen).toEqual([expect.objectContaining({ message: 'late failure' })]);
  });

  it('answers a 503 whose cause was already logged without a line of its own, and logs any other', async () => {
    const marked = setup(markAsLogged(new ServiceUnavailableError('Service is shutting down')));
    const res = await request(marked.app).get('/fail');
    expect(res.status).toBe(503);
    expect(res.body.error).toEqual({
      name: 'ServiceUnavailableError',
      message: 'Service is shutting down',
    });
    expect(marked.errorLogger.error).not.toHaveBeenCalled();

    const unmarked = setup(new ServiceUnavailableError('Service is shutting down'));
    expect((await request(unmarked.app).get('/fail')).status).toBe(503);
    expect(unmarked.errorLogger.error).toHaveBeenCalledTimes(1);
  });
});
