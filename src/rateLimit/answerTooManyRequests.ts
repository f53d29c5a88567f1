import { serializeError } from '@backstage/errors';
import type { AugmentedRequest, RateLimitExceededEventHandler } from 'express-rate-limit';
import type { RateLimitMetrics } from '../metrics';
import { TooManyRequestsError } from '../errors';
import type { RateLimitBucket } from './types';

/**
 * The `handler` given to express-rate-limit: answers a request over the limit with 429, `Retry-After` and
 * Backstage's error body.
 *
 * @remarks
 * The body is `{ error: { name: 'TooManyRequestsError', message }, request: { method, url }, response:
 * { statusCode: 429 } }`, as Backstage's error handlers write it. It is written here rather than by an error
 * handler further down, so that the limiter answers the same in any express app, never with express's default
 * HTML error page. The message and `Retry-After` give the whole seconds until the client's window ends (the
 * whole window when the store does not say). When headers were already sent, the error goes to `next`.
 *
 * @internal
 */
export const answerTooManyRequests: RateLimitExceededEventHandler = createTooManyRequestsHandler();

/**
 * Builds {@link answerTooManyRequests} for one budget: the message names the budget (`the user limit is …`),
 * never whose it is.
 *
 * @param budget - The budget named in the message, such as `user` or `failed authentication`. Defaults to none:
 *   `the limit is …`.
 * @internal
 */
export function createTooManyRequestsHandler(budget?: string): RateLimitExceededEventHandler {
  const named = budget === undefined ? 'the limit' : `the ${budget} limit`;
  return function answerTooManyRequests(req, res, next, optionsUsed) {
    answer(named, req, res, next, optionsUsed);
  };
}

/**
 * Wraps a `handler` so that each request over the limit is counted as a `limited` decision before it is answered.
 *
 * @param handler - The handler that answers.
 * @param metrics - Where the decision is counted. Defaults to none: `handler` itself is returned.
 * @param bucket - The per-principal budget, as the `bucket` attribute. Defaults to none.
 * @internal
 */
export function countLimited(
  handler: RateLimitExceededEventHandler,
  metrics: RateLimitMetrics | undefined,
  bucket: RateLimitBucket | undefined,
): RateLimitExceededEventHandler {
  if (!metrics) {
    return handler;
  }
  return function answerLimited(req, res, next, optionsUsed) {
    metrics.recordDecision('limited', bucket);
    handler(req, res, next, optionsUsed);
  };
}

function answer(
  named: string,
  ...[req, res, next, optionsUsed]: Parameters<RateLimitExceededEventHandler>
): void {
  const { windowMs, requestPropertyName } = optionsUsed;
  const { limit, resetTime } = (req as AugmentedRequest)[requestPropertyName];
  const retryAfterSeconds = resetTime
    ? Math.max(0, Math.ceil((resetTime.getTime() - Date.now()) / 1000))
    : Math.ceil(windowMs / 1000);
  const error = new TooManyRequestsError(
    `Too many requests: ${named} is ${limit} per ${Math.ceil(windowMs / 1000)} seconds; try again in ${retryAfterSeconds} seconds`,
    { retryAfterSeconds },
  );
  if (res.headersSent) {
    next(error);
    return;
  }
  // Set again, so that the header and the message always agree to the second.
  res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(error.statusCode).json({
    error: serializeError(error),
    request: { method: req.method, url: req.url },
    response: { statusCode: error.statusCode },
  });
}
