import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { startMetricsExporter } from '../../../examples/backend/src/startMetricsExporter';
import { createHttpRouterMetrics } from '../../metrics';
import { freePort } from '../helpers/freePort';

const ROOT = join(__dirname, '..', '..', '..');
const TOKEN = 'example-static-token-0123456789';

/**
 * Runs the example backend the way `npm start` does, on a free port instead of 7007, and sends it the
 * requests the README shows with curl.
 */
describe('the example backend', () => {
  let child: ChildProcess;
  let baseUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    child = spawn(
      process.execPath,
      [
        require.resolve('ts-node/dist/bin.js'),
        '--transpile-only',
        'examples/backend/src/index.ts',
        '--config',
        'examples/backend/app-config.yaml',
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_ENV: 'production',
          APP_CONFIG_backend_listen_port: String(port),
          APP_CONFIG_backend_baseUrl: baseUrl,
          // Rate limiting on, with loopback counted like any client, to tell which root router answers.
          APP_CONFIG_backend_rateLimit: JSON.stringify({ ipAllowList: [] }),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Plugin initialization complete')) {
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', code => reject(new Error(`example exited with ${code}:\n${output}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise(resolve => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses /hello without a token', async () => {
    const res = await fetch(`${baseUrl}/api/example/hello`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: { name: 'AuthenticationError', message: 'Missing credentials' },
      request: { method: 'GET', url: '/hello' },
      response: { statusCode: 401 },
    });
  });

  it('serves /hello with the static token', async () => {
    const res = await fetch(`${baseUrl}/api/example/hello`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: 'world' });
  });

  it('serves the public route without a token', async () => {
    const res = await fetch(`${baseUrl}/api/example/public/42`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '42', public: true });
  });

  it('answers a missing public item with 404', async () => {
    const res = await fetch(`${baseUrl}/api/example/public/missing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: unknown }).error).toEqual({
      name: 'NotFoundError',
      message: "No item with id 'missing'",
    });
  });

  it('publishes its service keys', async () => {
    const res = await fetch(`${baseUrl}/api/example/.backstage/auth/v1/jwks.json`);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: unknown };
    expect(keys).toEqual([expect.objectContaining({ kid: 'example-backend', alg: 'ES256' })]);
  });

  it("limits all plugins with this package's limiter in the root router", async () => {
    const res = await fetch(`${baseUrl}/.backstage/health/v1/liveness`);
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toMatch(/^"global"; q=1000; w=60;/);
  });
});

describe('startMetricsExporter of the example backend', () => {
  it('does nothing without EXAMPLE_METRICS_PORT', () => {
    expect(startMetricsExporter({})).toBeUndefined();
    expect(startMetricsExporter({ EXAMPLE_METRICS_PORT: '' })).toBeUndefined();
  });

  it.each(['abc', '0', '65536', '94.64', ' 9464'])(
    'refuses the port %j, naming the variable',
    value => {
      expect(() => startMetricsExporter({ EXAMPLE_METRICS_PORT: value })).toThrow(
        `EXAMPLE_METRICS_PORT must be a port number from 1 to 65535, got '${value}'`,
      );
    },
  );

  it('serves what the router records to Prometheus on 127.0.0.1 only', async () => {
    const port = await freePort();
    const exporter = startMetricsExporter({ EXAMPLE_METRICS_PORT: String(port) });
    try {
      await exporter?.ready;
      expect(exporter?.url).toBe(`http://127.0.0.1:${port}/metrics`);
      createHttpRouterMetrics({ pluginId: 'catalog' })
        .rateLimit('plugin-catalog')
        .recordDecision('limited');

      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(body).toMatch(
        /^backstage_http_router_rate_limit_decisions_total\{[^}]*plugin="catalog",limiter="plugin-catalog",outcome="limited"[^}]*\} 1$/m,
      );
      // Bound to 127.0.0.1 alone: another loopback address of the same machine (all of 127/8 is loopback on
      // Linux) finds nothing listening, where a server on every address would answer.
      await expect(fetch(`http://127.0.0.2:${port}/metrics`)).rejects.toThrow();
    } finally {
      await exporter?.stop();
    }
  });

  it('rejects `ready` when the port is taken', async () => {
    const taken = createServer();
    const port = await new Promise<number>(resolve =>
      taken.listen({ port: 0, host: '127.0.0.1' }, () =>
        resolve((taken.address() as { port: number }).port),
      ),
    );
    const exporter = startMetricsExporter({ EXAMPLE_METRICS_PORT: String(port) });
    try {
      await expect(exporter?.ready).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await exporter?.stop();
      taken.close();
    }
  });
});
