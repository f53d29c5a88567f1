import express, { type Request } from 'express';
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

  it("updates an own property that express-rate-limit's middleware set earlier", async () => {
    const app = createApp({
      info: { ours: true },
      before: rateLimit({ windowMs: 60_000, limit: 10, validate: false }),
    });
    const res = await request(app).get('/');
    expect(res.body).toEqual({ rateLimit: { ours: true }, own: true });
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

  it("changes only the app's own request prototype, never express's shared one", async () => {
    await request(createApp({ info: 1 })).get('/');
    expect(Object.getOwnPropertyDescriptor(express.request, 'rateLimit')).toBeUndefined();
  });
});
