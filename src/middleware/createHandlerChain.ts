import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { isThenable } from '../isThenable';

/**
 * A step of the chain. Typed as a request handler, as `router.use` takes it; one with four parameters is an
 * error handler, as express tells them apart.
 */
type Step = RequestHandler;

/** Steps that call `next` synchronously one after another before the chain yields once, as express does. */
const MAX_SYNC_STEPS = 100;

/**
 * A plugin's handler chain: the steps it was created with, then whatever {@link HandlerChain.use} appends.
 *
 * @internal
 */
export interface HandlerChain {
  /** Runs a request through the chain; mount it on the root router. */
  handle: RequestHandler;
  /** Appends a step, as `router.use(step)` on an express-promise-router would. */
  use(step: Step): void;
}

/**
 * Runs a plugin's steps one after another as one promise-aware handler, and answers what none of them handled
 * with `errorHandler`.
 *
 * @remarks
 * Behaves as an express-promise-router with `router.use(step)` for each of `steps`, then a nested
 * express-promise-router holding the steps that {@link HandlerChain.use} appends, then `router.use(errorHandler)`;
 * it does so without a router's per-layer path matching and bookkeeping, which a chain of `use` layers at `/`
 * does not need. As in those routers:
 * - an error from one of `steps` goes straight to `errorHandler`; an error from an appended step goes to the
 *   next appended step with four parameters (an error handler), and to `errorHandler` when none is left. An error
 *   handler that calls `next()` resumes the appended steps after it;
 * - `next('route')` goes on to the next step, as after a `use` layer, and `next('router')` leaves the chain;
 * - a step that throws, or returns a promise that rejects, is treated as `next(err)`; a promise that resolves to
 *   `'next'` or `'route'` is treated as `next()` or `next('route')`. A nullish thrown value or a falsy rejection
 *   reason is replaced by an `Error`, so that it can never be mistaken for a pass. Stricter than express in one
 *   way: `next(false)`, `next(0)` and `next('')` are errors here, where express reads them as passes;
 * - `req.next` is the chain's own `next` while the request is inside the chain (express's `res.format` and
 *   `res.render` report errors through it);
 * - after {@link MAX_SYNC_STEPS} steps that call `next` synchronously, the chain goes on in `setImmediate`, so
 *   that a long chain cannot overflow the stack.
 * When the last step passes the request on, the chain's own `next` is called, so that the root router answers
 * 404.
 *
 * @param steps - The chain's own steps, in order.
 * @param errorHandler - Answers errors that no step handled.
 * @internal
 */
export function createHandlerChain(
  steps: readonly Step[],
  errorHandler: ErrorRequestHandler,
): HandlerChain {
  const chain: Step[] = [...steps];
  const ownSteps = steps.length;

  function handle(req: Request, res: Response, done: NextFunction) {
    let index = 0;
    let sync = 0;
    const leave = () => {
      req.next = done;
      done();
    };
    const next = (err?: unknown): void => {
      if (err === 'router') {
        leave();
        return;
      }
      if (++sync > MAX_SYNC_STEPS) {
        sync = 0;
        setImmediate(next, err);
        return;
      }
      const failed = err !== undefined && err !== null && err !== 'route';
      if (failed && index <= ownSteps) {
        runErrorHandler(err);
        return;
      }
      let step = chain[index++];
      // A step with four parameters handles errors only; any other handles requests only.
      while (step !== undefined && (step.length === 4) !== failed) {
        step = chain[index++];
      }
      if (step === undefined) {
        if (failed) {
          runErrorHandler(err);
        } else {
          leave();
        }
        return;
      }
      try {
        const returned: unknown = failed
          ? (step as unknown as ErrorRequestHandler)(err, req, res, next)
          : step(req, res, next);
        if (isThenable(returned)) {
          // Through Promise.resolve, as express-promise-router does: a foreign thenable that calls back twice, or
          // at once, still settles once and later.
          Promise.resolve(returned).then(settleWith, rejectWith);
        }
      } catch (thrown) {
        next(thrown ?? new Error('A request handler threw a nullish value'));
      }
      sync = 0;
    };
    const settleWith = (value: unknown) => {
      if (value === 'next') {
        next();
      } else if (value === 'route') {
        next('route');
      }
    };
    // Any falsy reason, as express-promise-router does: `next(false)` would otherwise read as a pass.
    const rejectWith = (reason: unknown) => {
      next(
        reason || new Error('A request handler returned a promise that rejected without a reason'),
      );
    };
    const runErrorHandler = (err: unknown) => {
      req.next = done;
      try {
        errorHandler(err, req, res, done);
      } catch (thrown) {
        done(thrown);
      }
    };
    req.next = next;
    next();
  }

  return {
    handle,
    use(step) {
      chain.push(step);
    },
  };
}
