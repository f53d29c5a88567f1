import type { JsonObject } from '@backstage/types';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { ConfigReader } from '@backstage/config';
import request from 'supertest';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ServiceUnavailableError } from '@backstage/errors';
import { createErrorHandler } from '../../middleware/createErrorHandler';
import { createLifecycleMiddleware } from '../../middleware/createLifecycleMiddleware';
import { createTestApp } from '../helpers/createTestApp';
import { createTestLifecycle } from '../helpers/createTestLifecycle';

/** Starts an app with the lifecycle gate and a route behind it; `arrived` resolves when a request reaches the gate. */
async function setup(config: JsonObject = {}) {
  const { lifecycle, startup, shutdown } = createTestLifecycle();
  const gate = createLifecycleMiddleware({
    config: new ConfigReader(config),
    lifecycle,
  });
  let arrivals = 0;
  let served = 0;
  const waiters: Array<() => void> = [];
  const closed: Array<Promise<unknown>> = [];
  const app = createTestApp(
    (_req, res, next) => {
      arrivals += 1;
      closed.push(once(res, 'close'));
      waiters.splice(0).forEach(wake => wake());
      next();
    },
    gate,
    (_req, res) => {
      served += 1;
      res.json({ ok: true });
    },
  );
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const arrived = (count: number) =>
    new Promise<void>(resolve => {
      const check = () => (arrivals >= count ? resolve() : waiters.push(check));
      check();
    });
  return { url, server, arrived, startup, shutdown, closed, served: () => served };
}

describe('createLifecycleMiddleware', () => {
  let cleanup: Array<() => void> = [];

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });

  afterEach(() => {
    jest.useRealTimers();
    cleanup.forEach(close => close());
    cleanup = [];
  });

  it('holds a request until the plugin has started, then lets it through', async () => {
    const { url, server, arrived, startup } = await setup();
    cleanup.push(() => server.close());

    const pending = request(url).get('/');
    const answer = pending.then(res => res);
    await arrived(1);
    jest.advanceTimersByTime(4999);
    await startup();

    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it('answers 503 with Retry-After when the plugin has not started within the default 5 seconds', async () => {
    const { url, server, arrived } = await setup();
    cleanup.push(() => server.close());

    const answer = request(url)
      .get('/')
      .then(res => res);
    await arrived(1);
    jest.advanceTimersByTime(5000);

    const res = await answer;
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body.error).toEqual({
      name: 'ServiceUnavailableError',
      message: 'Service has not started up yet',
    });
  });

  it.each([['10s'], ['PT10S'], [{ seconds: 10 }]])(
    'reads the time-out %j from backend.lifecycle.startupRequestPauseTimeout',
    async timeout => {
      const { url, server, arrived, startup } = await setup({
        backend: { lifecycle: { startupRequestPauseTimeout: timeout } },
      });
      cleanup.push(() => server.close());

      const late = request(url)
        .get('/')
        .then(res => res);
      await arrived(1);
      jest.advanceTimersByTime(9999);
      const onTime = request(url)
        .get('/')
        .then(res => res);
      await arrived(2);
      jest.advanceTimersByTime(1);
      expect((await late).status).toBe(503);
      await startup();
      expect((await onTime).status).toBe(200);
    },
  );

  it('answers 503 with Retry-After to waiting and new requests once shutdown starts', async () => {
    const { url, server, arrived, shutdown } = await setup();
    cleanup.push(() => server.close());

    const waiting = request(url)
      .get('/')
      .then(res => res);
    await arrived(1);
    await shutdown();
    const waited = await waiting;
    expect(waited.status).toBe(503);
    expect(waited.headers['retry-after']).toBe('5');
    expect(waited.body.error.message).toBe('Service is shutting down');

    const late = await request(url).get('/');
    expect(late.status).toBe(503);
    expect(late.headers['retry-after']).toBe('5');
  });

  it('forgets a waiting request whose client disconnects', async () => {
    const { url, server, arrived, startup, closed, served } = await setup();
    cleanup.push(() => server.close());

    const client = http.get(url);
    client.on('error', () => undefined);
    await arrived(1);
    client.destroy();
    await closed[0];
    await startup();

    expect(served()).toBe(0);
    expect((await request(url).get('/')).status).toBe(200);
    expect(served()).toBe(1);
  });

  it('turns requests away after shutdown even when it started', async () => {
    const { url, server, startup, shutdown } = await setup();
    cleanup.push(() => server.close());
    await startup();
    expect((await request(url).get('/')).status).toBe(200);
    await shutdown();
    expect((await request(url).get('/')).status).toBe(503);
  });

  it.each([
    ['ten seconds', '"ten seconds"'],
    [{ seconds: 'ten' }, '{"seconds":"ten"}'],
    [[], '[]'],
  ])('fails at creation on the unreadable time-out %j', (timeout, shown) => {
    const { lifecycle } = createTestLifecycle();
    const create = () =>
      createLifecycleMiddleware({
        config: new ConfigReader({
          backend: { lifecycle: { startupRequestPauseTimeout: timeout } },
        } as JsonObject),
        lifecycle,
      });
    expect(create).toThrow(
      expect.objectContaining({
        code: 'ERR_HTTP_ROUTER_CONFIG',
        key: 'backend.lifecycle.startupRequestPauseTimeout',
      }),
    );
    expect(create).toThrow(shown);
  });

  it('logs one warning for a whole shutdown, not a line per refused request', async () => {
    const logger = {
      warn: jest.fn(),
      error: jest.fn(),
      info: jest.fn(),
      debug: jest.fn(),
      child: jest.fn(),
    };
    logger.child.mockReturnValue(logger);
    const { lifecycle, startup, shutdown } = createTestLifecycle();
    const app = express();
    app.use(
      createLifecycleMiddleware({
        config: new ConfigReader({}),
        lifecycle,
        logger: logger as LoggerService,
      }),
    );
    app.get('/', (_req, res) => {
      res.json({ ok: true });
    });
    app.use(createErrorHandler({ logger }));
    await startup();
    await shutdown();

    for (let i = 0; i < 20; i++) {
      const res = await request(app).get('/');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe('Service is shutting down');
    }
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('Shutting down'));
    expect(logger.error).not.toHaveBeenCalled();
  });

  describe('with bare objects as request and response, as upstream tests it', () => {
    const bare = () => ({
      req: {} as Request,
      res: {} as Response,
      next: jest.fn<void, [unknown?]>(),
    });

    it('holds a request until start-up, then calls next()', async () => {
      const { lifecycle, startup } = createTestLifecycle();
      const gate = createLifecycleMiddleware({ config: new ConfigReader({}), lifecycle });
      const { req, res, next } = bare();
      gate(req, res, next as NextFunction);
      expect(next).not.toHaveBeenCalled();
      await startup();
      expect(next).toHaveBeenCalledWith();
    });

    it('fails a request that waits past the time-out', () => {
      const { lifecycle } = createTestLifecycle();
      const gate = createLifecycleMiddleware({ config: new ConfigReader({}), lifecycle });
      const { req, res, next } = bare();
      gate(req, res, next as NextFunction);
      jest.advanceTimersByTime(5000);
      expect(next).toHaveBeenCalledWith(expect.any(ServiceUnavailableError));
      expect(next.mock.calls[0][0]).toMatchObject({ message: 'Service has not started up yet' });
    });

    it('fails waiting and new requests once shutdown starts', async () => {
      const { lifecycle, shutdown } = createTestLifecycle();
      const gate = createLifecycleMiddleware({ config: new ConfigReader({}), lifecycle });
      const waiting = bare();
      gate(waiting.req, waiting.res, waiting.next as NextFunction);
      await shutdown();
      const late = bare();
      gate(late.req, late.res, late.next as NextFunction);
      for (const { next } of [waiting, late]) {
        expect(next).toHaveBeenCalledTimes(1);
        expect(next.mock.calls[0][0]).toMatchObject({
          name: 'ServiceUnavailableError',
          message: 'Service is shutting down',
        });
      }
    });
  });
});
