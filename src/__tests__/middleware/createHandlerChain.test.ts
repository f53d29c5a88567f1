import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import Router from 'express-promise-router';
import request from 'supertest';
import { createHandlerChain } from '../../middleware/createHandlerChain';

/** Mounts a chain of `steps` and `appended` steps at /api/p, with a 404 after it, as a root router would. */
function setup(steps: RequestHandler[], appended: RequestHandler[] = []) {
  const seen: string[] = [];
  const errorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
    seen.push('errorHandler');
    res.status(err.statusCode ?? 500).json({ error: String(err.message ?? err) });
  };
  const app = express();
  const chain = createHandlerChain(steps, errorHandler);
  appended.forEach(step => chain.use(step));
  app.use('/api/p', chain.handle);
  app.use((_req, res) => {
    seen.push('root 404');
    res.status(404).json({ notFound: true });
  });
  return { app, seen, chain };
}

/** An error handler as a chain step: the chain tells the two apart by their number of parameters. */
const errorStep = (handler: ErrorRequestHandler) => handler as unknown as RequestHandler;

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
      ).handle,
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

  it('gives an error from an appended step to the next error handler, and resumes after it on next()', async () => {
    let log: string[] = [];
    const { app, seen } = setup(
      [mark(() => log, 'own')],
      [
        (_req, _res, next) => next(new Error('first')),
        mark(() => log, 'skipped on error'),
        errorStep((err, _req, _res, next) => {
          log.push(`recovered from ${err.message}`);
          next();
        }),
        mark(() => log, 'after recovery'),
        (_req, res) => {
          res.json({ done: true });
        },
      ],
    );
    log = seen;
    expect((await request(app).get('/api/p/x')).body).toEqual({ done: true });
    expect(seen).toEqual(['own', 'recovered from first', 'after recovery']);
  });

  it("sends an error from the chain's own steps straight to the error handler, past appended ones", async () => {
    let log: string[] = [];
    const { app, seen } = setup(
      [(_req, _res, next) => next(Object.assign(new Error('refused'), { statusCode: 401 }))],
      [
        errorStep((_err, _req, _res, next) => {
          log.push('appended error handler');
          next();
        }),
      ],
    );
    log = seen;
    const res = await request(app).get('/api/p/x');
    expect(res.status).toBe(401);
    expect(seen).toEqual(['errorHandler']);
  });

  it('skips error handlers while there is no error', async () => {
    let log: string[] = [];
    const { app, seen } = setup(
      [],
      [
        errorStep((_err, _req, _res, next) => {
          log.push('never');
          next();
        }),
        mark(() => log, 'a'),
      ],
    );
    log = seen;
    expect((await request(app).get('/api/p/x')).status).toBe(404);
    expect(seen).toEqual(['a', 'root 404']);
  });

  it('treats a rejected promise as an error, and one rejected without a reason too', async () => {
    const { app } = setup([
      async req => {
        if (req.path === '/empty') {
          return Promise.reject(undefined);
        }
        if (req.path === '/false') {
          return Promise.reject(false);
        }
        throw new Error('async failure');
      },
    ]);
    const failed = await request(app).get('/api/p/x');
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ error: 'async failure' });
    for (const path of ['/api/p/empty', '/api/p/false']) {
      const empty = await request(app).get(path);
      expect(empty.status).toBe(500);
      expect(empty.body.error).toMatch(/rejected without a reason/);
    }
  });

  it("goes on when a promise resolves to 'next' or 'route', and waits otherwise", async () => {
    const { app, seen } = setup([
      async req => (req.path === '/next' ? 'next' : req.path === '/route' ? 'route' : undefined),
      (_req, res) => {
        res.json({ reached: true });
      },
    ]);
    expect((await request(app).get('/api/p/next')).body).toEqual({ reached: true });
    expect((await request(app).get('/api/p/route')).body).toEqual({ reached: true });
    // Resolving to anything else means the step has answered or will call next itself; nothing more happens.
    await expect(request(app).get('/api/p/other').timeout(300)).rejects.toThrow(/Timeout/);
    expect(seen).toEqual([]);
  });

  it('runs an express-promise-router step exactly as a nested router would', async () => {
    const plugin = Router();
    plugin.get('/items/:id', async (req, res) => {
      res.json({ id: req.params.id, baseUrl: req.baseUrl });
    });
    plugin.get('/fails', async () => {
      throw Object.assign(new Error('plugin failure'), { statusCode: 418 });
    });
    const { app } = setup([plugin]);
    expect((await request(app).get('/api/p/items/7')).body).toEqual({ id: '7', baseUrl: '/api/p' });
    const failed = await request(app).get('/api/p/fails');
    expect(failed.status).toBe(418);
    expect((await request(app).get('/api/p/none')).status).toBe(404);
  });

  it('sets req.next to its own next, so that res.format reports a 406 to the error handler', async () => {
    const { app, seen } = setup([
      (_req, res) => {
        res.format({ 'application/json': () => res.json({ ok: true }) });
      },
    ]);
    const res = await request(app).get('/api/p/x').set('accept', 'text/html');
    expect(res.status).toBe(406);
    expect(seen).toEqual(['errorHandler']);
  });

  it('restores req.next when the request leaves the chain', async () => {
    const app = express();
    let nextAfterChain: unknown;
    let nextBeforeChain: unknown;
    app.use((req, _res, next) => {
      nextBeforeChain = req.next;
      next();
    });
    app.use('/api/p', createHandlerChain([mark(() => [], 'a')], () => undefined).handle);
    app.use((req, res) => {
      nextAfterChain = req.next;
      res.status(404).end();
    });
    await request(app).get('/api/p/x');
    expect(nextAfterChain).toBe(nextBeforeChain);
  });

  it('runs thousands of synchronous steps without overflowing the stack', async () => {
    let count = 0;
    const steps: RequestHandler[] = Array.from({ length: 20_000 }, () => (_req, _res, next) => {
      count++;
      next();
    });
    const { app } = setup([
      ...steps,
      (_req, res) => {
        res.json({ count });
      },
    ]);
    const res = await request(app).get('/api/p/x');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ count: 20_000 });
  });

  it('runs steps appended with use() after the first ones, for requests that come later', async () => {
    const { app, chain } = setup([mark(() => [], 'a')]);
    expect((await request(app).get('/api/p/x')).status).toBe(404);
    chain.use((_req, res) => {
      res.json({ appended: true });
    });
    expect((await request(app).get('/api/p/x')).body).toEqual({ appended: true });
  });
});
