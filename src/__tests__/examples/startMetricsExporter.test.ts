import { createServer } from 'node:net';
import { startMetricsExporter } from '../../../examples/backend/src/startMetricsExporter';
import { createHttpRouterMetrics } from '../../metrics';
import { freePort } from '../helpers/freePort';

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
