import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs handlers one after another as one handler, and sends any error they pass on to `errorHandler`.
 *
 * @remarks
 * Behaves as an express router with `router.use(step)` for each step and `router.use(errorHandler)` last, without
 * the router's per-layer path matching and bookkeeping, which a plugin's fixed chain does not need: `next(err)`
 * skips to the error handler, `next('route')` goes on to the next step as it does after a `use` layer,
 * `next('router')` leaves the chain, and a step that throws is treated as `next(err)`. When the last step passes
 * the request on, the chain's own `next` is called, so that the root router answers 404.
 *
 * @param steps - The handlers, in order.
 * @param errorHandler - Answers errors from any step.
 * @internal
 */
export function createHandlerChain(
  steps: readonly RequestHandler[],
  errorHandler: ErrorRequestHandler,
): RequestHandler {
  const chain = [...steps];
  return function handlerChain(req: Request, res: Response, done: NextFunction) {
    let index = 0;
    const next = (err?: unknown) => {
      if (err === 'router') {
        done();
        return;
      }
      if (err !== undefined && err !== null && err !== 'route') {
        try {
          errorHandler(err, req, res, done);
        } catch (thrown) {
          done(thrown);
        }
        return;
      }
      const step = chain[index++];
      if (step === undefined) {
        done();
        return;
      }
      try {
        step(req, res, next);
      } catch (thrown) {
        next(thrown ?? new Error('A request handler threw a nullish value'));
      }
    };
    next();
  };
}
