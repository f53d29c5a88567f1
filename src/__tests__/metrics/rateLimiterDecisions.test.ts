import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { MemoryStore, type ClientRateLimitInfo, type Store } from 'express-rate-limit';
import request from 'supertest';
import type { RateLimitMetrics, RateLimitOutcome } from '../../metrics';
import { createLimiter, type LimiterOptions } from '../../rateLimit/limiter';
import { DEFAULT_RATE_LIMIT_OPTIONS } from '../../rateLimit/config';

/** Keeps every decision a limiter reports, as `outcome` or `outcome/bucket`. */
function recordDecisions() {
  const decisions: string[] = [];
  const metrics: RateLimitMetrics = {
    recordDecision(outcome: RateLimitOutcome, bucket?: string) {
      decisions.push(bucket ? `${outcome}/${bucket}` : outcome);
    },
    recordStoreWait() {},
  };
  return { decisions, metrics };
}

/** A store whose server is down: every count fails. */
class UnreachableStore implements Store {
  localKeys = false;
  prefix = 'unreachable:';
  increment(): Promise<ClientRateLimitInfo> {
    return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'));
  }
  decrement(): Promise<void> {
    return Promise.resolve();
  }
  resetKey(): Promise<void> {
    return Promise.resolve();
  }
}

/** An express app with the limiter in front of `/ok`, and an error handler that names the error it got. */
function setup(limiter: Partial<LimiterOptions>, before: RequestHandler[] = []) {
  const { decisions, metrics } = recordDecisions();
  const app = express();
  before.forEach(handler => app.use(handler));
  app.use(
    createLimiter({
      options: { ...DEFAULT_RATE_LIMIT_OPTIONS, limit: 2, ipAllowList: [] },
      pluginId: 'example',
      store: new MemoryStore(),
      metrics,
      ...limiter,
    }),
  );
  app.get('/ok', (_req, res) => {
    res.json({ ok: true });
  });
  const handleError: ErrorRequestHandler = (error: Error, _req, res, _next) => {
    if (!res.headersSent) {
      res.status(599);
    }
    res.end(`error ${error.name}`);
  };
  app.use(handleError);
  return { app, decisions };
}

async function statuses(app: express.Express, n: number, headers: Record<string, string> = {}) {
  const result: number[] = [];
  for (let i = 0; i < n; i++) {
    result.push((await request(app).get('/ok').set(headers)).status);
  }
  return result;
}

describe('the decisions of a limiter', () => {
  it('gives each request exactly one decision: allowed up to the limit, limited after it', async () => {
    const { app, decisions } = setup({});
    expect(await statuses(app, 5)).toEqual([200, 200, 429, 429, 429]);
    expect(decisions).toEqual(['allowed', 'allowed', 'limited', 'limited', 'limited']);
  });

  it('counts a request from the allow list as allow_listed only', async () => {
    const { app, decisions } = setup({
      options: { ...DEFAULT_RATE_LIMIT_OPTIONS, limit: 1, ipAllowList: ['127.0.0.1', '::1'] },
    });
    expect(await statuses(app, 3)).toEqual([200, 200, 200]);
    expect(decisions).toEqual(['allow_listed', 'allow_listed', 'allow_listed']);
  });

  it('leaves requests with credentials, which the plugin routers count, without a decision', async () => {
    const { app, decisions } = setup({ skip: req => req.headers.authorization !== undefined });
    expect(await statuses(app, 3, { authorization: 'Bearer token' })).toEqual([200, 200, 200]);
    expect(await statuses(app, 1)).toEqual([200]);
    expect(decisions).toEqual(['allowed']);
  });

  it('names the bucket of a per-principal budget', async () => {
    const { app, decisions } = setup({
      bucket: { kind: 'user', limit: 1, key: () => 'user:default/alice' },
    });
    expect(await statuses(app, 2)).toEqual([200, 429]);
    expect(decisions).toEqual(['allowed/user', 'limited/user']);
  });

  it('counts a store failure as store_error_refuse', async () => {
    const { app, decisions } = setup({ store: new UnreachableStore() });
    for (let i = 0; i < 2; i++) {
      expect((await request(app).get('/ok')).text).toBe('error ServiceUnavailableError');
    }
    expect(decisions).toEqual(['store_error_refuse', 'store_error_refuse']);
  });

  it('counts a request over the limit whose headers were already sent as limited only, and passes its 429 error on', async () => {
    const flushFirst: RequestHandler = (_req, res, next) => {
      res.flushHeaders();
      next();
    };
    const { app, decisions } = setup({}, [flushFirst]);
    await statuses(app, 2);
    const over = await request(app).get('/ok');
    expect(over.text).toBe('error TooManyRequestsError');
    expect(decisions).toEqual(['allowed', 'allowed', 'limited']);
  });
});
