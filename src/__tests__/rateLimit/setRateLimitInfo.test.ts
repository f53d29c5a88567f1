import { createServer, IncomingMessage } from 'node:http';
import express, { type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import request from 'supertest';
import { setRateLimitInfo } from '../../rateLimit/setRateLimitInfo';

type WithInfo = Request & { rateLimit?: unknown };

/** An app that sets `info` with setRateLimitInfo, lets `before` and `after` run around it, and answers what it reads. */
function createApp(options: {
  info: unknown;
  before?: express.RequestHandler;
  after?: (req: WithInfo) => void;
}) {
  const app = express();
  if (options.before) {
    app.use(options.before);
  }
  app.use((req, res) => {
    setRateLimitInfo(req, options.info);
    options.after?.(req as WithInfo);
    res.json({
      rateLimit: (req as WithInfo).rateLimit ?? null,
      own: Object.prototype.hasOwnProperty.call(req, 'rateLimit'),
    });
  });
  return app;
}

describe('setRateLimitInfo', () => {
  it('makes the counts readable on req.rateLimit without adding a property to the request', async () => {
    const res = await request(createApp({ info: { remaining: 2 } })).get('/');
    expect(res.body).toEqual({ rateLimit: { remaining: 2 }, own: false });
  });

  it("keeps each request's counts apart", async () => {
    let calls = 0;
    const app = express();
    app.use((req, res) => {
      setRateLimitInfo(req, { call: ++calls });
      res.json((req as WithInfo).rateLimit);
    });
    expect((await request(app).get('/')).body).toEqual({ call: 1 });
    expect((await request(app).get('/')).body).toEqual({ call: 2 });
  });

  it('lets later code assign req.rateLimit, as it could before', async () => {
    const app = createApp({
      info: { remaining: 2 },
      after: req => {
        req.rateLimit = { replaced: true };
      },
    });
    expect((await request(app).get('/')).body).toEqual({
      rateLimit: { replaced: true },
      own: false,
    });
  });

  it("replaces the counts express-rate-limit's middleware left earlier, whether as own property or not", async () => {
    let before: unknown;
    const app = createApp({ info: { ours: true } });
    const probe = express();
    probe.use(rateLimit({ windowMs: 60_000, limit: 10, validate: false }), (req, _res, next) => {
      before = (req as WithInfo).rateLimit;
      next();
    });
    probe.use(app);
    const res = await request(probe).get('/');
    expect(before).toMatchObject({ limit: 10, used: 1 });
    expect(res.body.rateLimit).toEqual({ ours: true });
  });

  it('updates an own property that a request already has', async () => {
    const app = createApp({
      info: { ours: true },
      before: (req, _res, next) => {
        Object.defineProperty(req, 'rateLimit', {
          value: 'earlier',
          writable: true,
          enumerable: true,
          configurable: true,
        });
        next();
      },
    });
    expect((await request(app).get('/')).body).toEqual({ rateLimit: { ours: true }, own: true });
  });

  it("leaves a prototype that has a rateLimit of someone else's alone", async () => {
    const app = express();
    Object.defineProperty(app.request, 'rateLimit', { value: 'theirs', writable: true });
    app.use((req, res) => {
      setRateLimitInfo(req, { ours: true });
      res.json({
        rateLimit: (req as WithInfo).rateLimit,
        prototype: Object.getPrototypeOf(req).rateLimit,
      });
    });
    expect((await request(app).get('/')).body).toEqual({
      rateLimit: { ours: true },
      prototype: 'theirs',
    });
  });

  it('keeps the counts visible inside sub-apps, however they are mounted', async () => {
    const seen: Record<string, unknown> = {};
    const read = (name: string) => {
      const subApp = express();
      subApp.use((req, _res, next) => {
        seen[name] = (req as WithInfo).rateLimit;
        next();
      });
      return subApp;
    };
    const app = express();
    app.use((req, _res, next) => {
      setRateLimitInfo(req, { counted: true });
      next();
    });
    app.use(read('app.use'));
    app.use(express.Router().use(read('router.use')));
    app.use((req, res) => {
      res.json({ after: (req as WithInfo).rateLimit });
    });
    expect((await request(app).get('/')).body).toEqual({ after: { counted: true } });
    expect(seen).toEqual({ 'app.use': { counted: true }, 'router.use': { counted: true } });
  });

  it('sets an own property on a request that is not an express app request', async () => {
    const router = express.Router();
    router.use((req, res) => {
      setRateLimitInfo(req, { bare: true });
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          rateLimit: (req as WithInfo).rateLimit,
          own: Object.prototype.hasOwnProperty.call(req, 'rateLimit'),
        }),
      );
    });
    const server = createServer((req, res) =>
      router(req as Request, res as unknown as Response, () => res.end()),
    );
    const res = await request(server).get('/');
    expect(res.body).toEqual({ rateLimit: { bare: true }, own: true });
    expect(Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'rateLimit')).toBeUndefined();
  });
});
