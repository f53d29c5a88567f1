import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import request from 'supertest';
import { createHandlerChain } from '../../middleware/createHandlerChain';

/** Mounts a chain at /api/p, with a 404 after it, as a root router would. */
function setup(steps: RequestHandler[]) {
  const seen: string[] = [];
  const errorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
    seen.push('errorHandler');
    res.status(err.statusCode ?? 500).json({ error: String(err.message ?? err) });
  };
  const app = express();
  app.use('/api/p', createHandlerChain(steps, errorHandler));
  app.use((_req, res) => {
    seen.push('root 404');
    res.status(404).json({ notFound: true });
  });
  return { app, seen };
}

const mark =
  (seen: () => string[], name: string): RequestHandler =>
  (_req, _res, next) => {
    seen().push(name);
    next();
  };

describe('createHandlerChain', () => {
  it('runs the steps in order and answers from the one that responds', async () => {
    let log: string[] = [];
    const { app, seen } = setup([
      mark(() => log, 'a'),
      mark(() => log, 'b'),
      (req, res) => {
        log.push('c');
        res.json({ path: req.path, baseUrl: req.baseUrl });
      },
    ]);
    log = seen;
    const res = await request(app).get('/api/p/x/y?q=1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ path: '/x/y', baseUrl: '/api/p' });
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('passes a request no step answers on to the root, which answers 404', async () => {
    let log: string[] = [];
    const { app, seen } = setup([mark(() => log, 'a')]);
    log = seen;
    expect((await request(app).get('/api/p/x')).status).toBe(404);
    expect(seen).toEqual(['a', 'root 404']);
  });

  it('skips the remaining steps on an error and answers from the error handler', async () => {
    let log: string[] = [];
    const { app, seen } = setup([
      (_req, _res, next) => next(Object.assign(new Error('nope'), { statusCode: 401 })),
      mark(() => log, 'never'),
    ]);
    log = seen;
    const res = await request(app).get('/api/p/x');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'nope' });
    expect(seen).toEqual(['errorHandler']);
  });

  it('treats a step that throws as an error', async () => {
    const { app } = setup([
      () => {
        throw new Error('thrown');
      },
    ]);
    const res = await request(app).get('/api/p/x');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'thrown' });
  });

  it('treats a step that throws undefined as an error, never as a pass', async () => {
    const { app } = setup([
      () => {
        throw undefined;
      },
      (_req, res) => {
        res.json({ reached: true });
      },
    ]);
    const res = await request(app).get('/api/p/x');
    expect(res.status).toBe(500);
  });

  it("goes on to the next step on next('route'), as after a use layer", async () => {
    const { app } = setup([
      (_req, _res, next) => next('route'),
      (_req, res) => {
        res.json({ reached: true });
      },
    ]);
    expect((await request(app).get('/api/p/x')).body).toEqual({ reached: true });
  });

  it("leaves the chain on next('router')", async () => {
    let log: string[] = [];
    const { app, seen } = setup([(_req, _res, next) => next('router'), mark(() => log, 'never')]);
    log = seen;
    expect((await request(app).get('/api/p/x')).status).toBe(404);
    expect(seen).toEqual(['root 404']);
  });

  it('passes an error on when the error handler does', async () => {
    const app = express();
    app.use(
      '/api/p',
      createHandlerChain(
        [
          (_req, _res, next) => {
            next(new Error('first'));
          },
        ],
        (err, _req, _res, next) => next(err),
      ),
    );
    app.use(((err, _req, res, _next) => {
      res.status(502).json({ outer: err.message });
    }) as ErrorRequestHandler);
    const res = await request(app).get('/api/p/x');
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ outer: 'first' });
  });

  it('runs each request through its own position in the chain', async () => {
    let releaseSlow: () => void = () => undefined;
    let markSlowArrived: () => void = () => undefined;
    const slowArrived = new Promise<void>(resolve => {
      markSlowArrived = resolve;
    });
    const { app } = setup([
      (req, _res, next) => {
        if (req.path === '/slow') {
          releaseSlow = next;
          markSlowArrived();
        } else {
          next();
        }
      },
      (req, res) => {
        res.json({ path: req.path });
      },
    ]);
    const slow = request(app)
      .get('/api/p/slow')
      .then(res => res);
    await slowArrived;
    const fast = await request(app).get('/api/p/fast');
    expect(fast.body).toEqual({ path: '/fast' });
    releaseSlow();
    expect((await slow).body).toEqual({ path: '/slow' });
  });
});
