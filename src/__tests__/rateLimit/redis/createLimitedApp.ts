import { rateLimit, type Store } from 'express-rate-limit';
import type { Handler } from 'express';
import request from 'supertest';
import { RateLimitStoreUnavailableError } from '../../../rateLimit/redis/errors';
import { createTestApp } from '../../helpers/createTestApp';

/** The header a test sets to pick which client a request counts against. */
export const CLIENT_HEADER = 'x-test-client';

/**
 * An express app limited by express-rate-limit over `store`, answering `ok` and ending with the plugin error
 * handler.
 *
 * @remarks
 * Clients are told apart by {@link CLIENT_HEADER} rather than by IP, since every test request comes from
 * 127.0.0.1. A store error is passed on to the error handler with `Retry-After` set from a
 * {@link RateLimitStoreUnavailableError}: this stands in for what the rate-limit middleware does.
 */
export function createLimitedApp(options: { store: Store; limit: number; windowMs?: number }) {
  const { store, limit, windowMs = 60_000 } = options;
  const limiter = rateLimit({
    store,
    limit,
    windowMs,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    passOnStoreError: false,
    keyGenerator: req => req.get(CLIENT_HEADER) ?? 'anonymous',
  });
  const limited: Handler = function limitWithRetryAfter(req, res, next) {
    void limiter(req, res, error => {
      if (error instanceof RateLimitStoreUnavailableError) {
        res.set('Retry-After', String(error.retryAfterSeconds));
      }
      next(error);
    });
  };
  const answer: Handler = (_req, res) => {
    res.send('ok');
  };
  return createTestApp(limited, answer);
}

/** Sends `count` requests for `client` one after the other and returns their statuses. */
export async function sendRequests(
  app: ReturnType<typeof createLimitedApp>,
  client: string,
  count: number,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await request(app).get('/').set(CLIENT_HEADER, client);
    statuses.push(response.status);
  }
  return statuses;
}

/** Sends one request for `client` and returns its status and how long the answer took, in milliseconds. */
export async function timedRequest(
  app: ReturnType<typeof createLimitedApp>,
  client: string,
): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const response = await request(app).get('/').set(CLIENT_HEADER, client);
  return { status: response.status, ms: Date.now() - started };
}
