/**
 * Measures what a hung Redis adds to each request once the Redis store's circuit breaker has opened.
 *
 * Starts its own redis-server on a loopback port and an express app with the all-plugins and a plugin limiter
 * (the shipped `createRateLimitMiddleware`, Redis store, `store.timeout` 100 ms), freezes Redis with SIGSTOP, sends
 * 200 requests per second for a few seconds, and reports the latency added after the first request that timed
 * out. Stops everything it started, by pid. Run with `npm run bench:breaker`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { LifecycleService, LoggerService } from '@backstage/backend-plugin-api';
import { ConfigReader } from '@backstage/config';
import express from 'express';
import { createErrorHandler } from '../src/middleware/createErrorHandler';
import { createRateLimitMiddleware } from '../src/rateLimit/createRateLimitMiddleware';

const TIMEOUT_MS = 100;
const RATE_PER_SECOND = 200;
const DURATION_MS = 5_000;
const WARM_UP_REQUESTS = 200;

/** The limiters' shutdown hooks, which give back their Redis connections. */
const shutdownHooks: Array<() => void | Promise<void>> = [];
const lifecycle: LifecycleService = {
  addStartupHook: () => undefined,
  addShutdownHook: hook => void shutdownHooks.push(hook),
};

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>(resolve => probe.close(() => resolve()));
  return port;
}

async function startRedis(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await new Promise(resolve => setTimeout(resolve, 300));
  return { child, url: `redis://127.0.0.1:${port}` };
}

function startApp(url: string) {
  const config = new ConfigReader({
    backend: {
      rateLimit: {
        ipAllowList: [],
        incomingRequestLimit: 1_000_000,
        store: { type: 'redis', connection: url, timeout: `${TIMEOUT_MS}ms` },
        plugin: { bench: {} },
      },
    },
  });
  const logger: LoggerService = {
    error: () => undefined,
    warn: () => undefined,
    info: () => undefined,
    debug: () => undefined,
    child: () => logger,
  };
  const app = express();
  app.set('trust proxy', true);
  app.use(createRateLimitMiddleware({ config, logger, lifecycle }));
  app.use(createRateLimitMiddleware({ pluginId: 'bench', config, logger, lifecycle }));
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  app.use(createErrorHandler({ logger }));
  return new Promise<ReturnType<typeof app.listen>>(resolve => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

function timeOne(port: number, client: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        agent,
        headers: { 'x-forwarded-for': `10.0.${client}.1` },
      },
      res => {
        res.resume();
        res.on('end', () => resolve(performance.now() - started));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const redis = await startRedis();
  let server: Awaited<ReturnType<typeof startApp>> | undefined;
  try {
    server = await startApp(redis.url);
    const { port } = server.address() as AddressInfo;
    const healthy: number[] = [];
    for (let i = 0; i < WARM_UP_REQUESTS; i++) {
      healthy.push(await timeOne(port, i % 50));
    }
    const baseline = percentile(
      [...healthy].sort((a, b) => a - b),
      50,
    );

    process.kill(redis.child.pid as number, 'SIGSTOP');
    const intervalMs = 1000 / RATE_PER_SECOND;
    const count = Math.round(DURATION_MS / intervalMs);
    const started = performance.now();
    const runs: Array<Promise<{ sentAt: number; ms: number }>> = [];
    for (let i = 0; i < count; i++) {
      const due = started + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) {
        await new Promise(resolve => setTimeout(resolve, wait));
      }
      const sentAt = performance.now();
      runs.push(timeOne(port, i % 50).then(ms => ({ sentAt, ms })));
    }
    const results = await Promise.all(runs);
    process.kill(redis.child.pid as number, 'SIGCONT');

    const firstTimedOut = results.findIndex(result => result.ms >= TIMEOUT_MS * 0.9);
    if (firstTimedOut === -1) {
      throw new Error('no request timed out: was Redis stopped?');
    }
    // Requests sent once the first timed-out request had been answered: the breaker was open by then.
    const openedAt = results[firstTimedOut].sentAt + results[firstTimedOut].ms;
    const after = results
      .filter(result => result.sentAt >= openedAt)
      .map(result => Math.max(0, result.ms - baseline));
    const sorted = [...after].sort((a, b) => a - b);
    const addedMax = Math.max(...results.map(result => result.ms)) - baseline;
    const p99 = percentile(sorted, 99);
    const lines = [
      `healthy Redis: p50 ${baseline.toFixed(2)} ms over ${WARM_UP_REQUESTS} requests (the baseline)`,
      `Redis stopped (SIGSTOP), ${count} requests at ${RATE_PER_SECOND}/s, store.timeout ${TIMEOUT_MS} ms, ` +
        'all-plugins + plugin limiter on the same Redis',
      `first request that timed out: #${firstTimedOut} (${results[firstTimedOut].ms.toFixed(1)} ms)`,
      `added latency of the ${after.length} requests sent after it was answered: ` +
        `p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, ` +
        `max ${sorted[sorted.length - 1].toFixed(2)} ms`,
      `largest added latency of the whole run: ${addedMax.toFixed(1)} ms`,
      `targets: p99 <= 5 ms: ${p99 <= 5 ? 'met' : 'MISSED'}; ` +
        `max <= ${TIMEOUT_MS} ms (one store.timeout): ${addedMax <= TIMEOUT_MS ? 'met' : 'MISSED'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    agent.destroy();
    await new Promise(resolve => (server ? server.close(resolve) : resolve(undefined)));
    await Promise.all(shutdownHooks.map(hook => hook()));
    if (redis.child.exitCode === null && redis.child.pid !== undefined) {
      process.kill(redis.child.pid, 'SIGCONT');
      process.kill(redis.child.pid, 'SIGTERM');
    }
  }
}

main().catch(error => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
