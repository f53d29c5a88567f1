import express, { type ErrorRequestHandler, type Handler } from 'express';
import { rateLimit, type ClientRateLimitInfo, type Store } from 'express-rate-limit';
import request from 'supertest';
import { createTooManyRequestsHandler } from '../../rateLimit/limiter';

const answerTooManyRequests = createTooManyRequestsHandler();
import { TooManyRequestsError } from '../../errors';

/** A store that counts but never says when a window ends, as some third-party stores do. */
class NoResetTimeStore implements Store {
  localKeys = true;
  #hits = 0;
  increment(): ClientRateLimitInfo {
    this.#hits += 1;
    return { totalHits: this.#hits, resetTime: undefined };
  }
  decrement(): void {}
  resetKey(): void {}
}

describe('answerTooManyRequests', () => {
  it('sets Retry-After itself, to the whole window when the store gives no reset time', async () => {
    const limiter = rateLimit({
      store: new NoResetTimeStore(),
      limit: 1,
      windowMs: 90_000,
      // Neither header family, so that Retry-After can only come from the handler.
      standardHeaders: false,
      legacyHeaders: false,
      handler: answerTooManyRequests,
    });
    const app = express().use(limiter, (_req, res) => {
      res.send('ok');
    });
    expect((await request(app).get('/')).status).toBe(200);
    const refused = await request(app).get('/x');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('90');
    expect(refused.body).toEqual({
      error: {
        name: 'TooManyRequestsError',
        message: 'Too many requests: the limit is 1 per 90 seconds; try again in 90 seconds',
      },
      request: { method: 'GET', url: '/x' },
      response: { statusCode: 429 },
    });
  });

  it('passes the error on when the headers were already sent', async () => {
    const seen: unknown[] = [];
    const sendHeadersFirst: Handler = (_req, res, next) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('streaming');
      next();
    };
    const record: ErrorRequestHandler = (error, _req, res, _next) => {
      seen.push(error);
      res.end();
    };
    const app = express().use(
      sendHeadersFirst,
      rateLimit({ limit: 1, legacyHeaders: false, handler: answerTooManyRequests }),
      (_req: express.Request, res: express.Response) => {
        res.end();
      },
      record,
    );
    await request(app).get('/');
    const res = await request(app).get('/');
    expect(res.status).toBe(200);
    expect(seen).toEqual([expect.any(TooManyRequestsError)]);
  });
});
