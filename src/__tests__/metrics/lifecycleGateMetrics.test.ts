import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import Router from 'express-promise-router';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { httpRouterServiceFactory } from '../../httpRouter/httpRouterServiceFactory';
import { createLifecycleMiddleware } from '../../middleware/createLifecycleMiddleware';
import { createHttpRouterMetrics } from '../../metrics';
import { METRIC_NAMES } from '../../metrics';
import { createTestApp } from '../helpers/createTestApp';
import { createTestLifecycle } from '../helpers/createTestLifecycle';
import { startMetricsSdk, type MetricsSdk } from '../helpers/metricsSdk';
import { TEST_AUTH_SERVICES } from '../helpers/testAuthServices';
import { waitUntil } from '../rateLimit/redis/waitUntil';

/** A deferred step of the plugin that the test lets go of. */
function hold() {
  let release!: () => void;
  const held = new Promise<void>(resolve => (release = resolve));
  return { held, release };
}

/**
 * The example plugin with an open `/hello`, whose init (and so its start) or shutdown waits until the test lets
 * it go; it tells its base URL as soon as the server listens, before it has started.
 */
function createHeldPlugin(options: { startup?: Promise<void>; shutdown?: Promise<void> }) {
  let tellUrl!: (url: string) => void;
  const baseUrl = new Promise<string>(resolve => (tellUrl = resolve));
  const feature = createBackendPlugin({
    pluginId: 'example',
    register(env) {
      env.registerInit({
        deps: {
          http: coreServices.httpRouter,
          discovery: coreServices.discovery,
          lifecycle: coreServices.lifecycle,
        },
        async init({ http, discovery, lifecycle }) {
          const router = Router();
          router.get('/hello', async (_req, res) => {
            res.json({ hello: 'world' });
          });
          http.use(router);
          http.addAuthPolicy({ path: '/hello', allow: 'unauthenticated' });
          if (options.shutdown) {
            const shutdown = options.shutdown;
            lifecycle.addShutdownHook(() => shutdown);
          }
          tellUrl(await discovery.getBaseUrl('example'));
          await options.startup;
        },
      });
    },
  });
  return { feature, baseUrl };
}

const startBackend = (plugin: ReturnType<typeof createHeldPlugin>, startupTimeout = '10s') =>
  startTestBackend({
    features: [
      httpRouterServiceFactory,
      ...TEST_AUTH_SERVICES,
      plugin.feature,
      mockServices.rootConfig.factory({
        data: { backend: { lifecycle: { startupRequestPauseTimeout: startupTimeout } } },
      }),
    ],
  });

/** Lets a held start-up go, so that a failed test never leaves a backend starting forever, and stops it. */
async function releaseAndStop(
  startup: ReturnType<typeof hold>,
  starting: ReturnType<typeof startBackend>,
): Promise<void> {
  startup.release();
  await (await starting).stop();
}

/** The lifecycle gate's points as `name reason value`, with the plugin and scope checked. */
async function gatePoints(sdk: MetricsSdk, scope = 'backstage-plugin-example'): Promise<string[]> {
  return (await sdk.collect())
    .filter(
      point =>
        point.name === METRIC_NAMES.lifecycleRejected ||
        point.name === METRIC_NAMES.lifecycleWaiting,
    )
    .map(point => {
      expect(point.attributes.plugin).toBe('example');
      // startTestBackend registers Backstage's metrics service, which scopes each plugin's meter.
      expect(point.scope).toBe(scope);
      const name = point.name.slice(point.name.lastIndexOf('.') + 1);
      return `${name} ${point.attributes.reason ?? '-'} ${point.value}`;
    })
    .sort();
}

describe('lifecycle gate metrics, in a real backend (issue 14)', () => {
  let sdk: MetricsSdk;
  let stopBackend: (() => Promise<void>) | undefined;

  beforeEach(() => {
    // Before the backend: instruments created while no SDK is registered stay no-ops.
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    await stopBackend?.();
    stopBackend = undefined;
    await sdk.stop();
  });

  it('counts one startup_timeout 503 and shows the request waiting, then no longer', async () => {
    const startup = hold();
    const plugin = createHeldPlugin({ startup: startup.held });
    // Long enough to see the request waiting on a busy machine.
    const starting = startBackend(plugin, '1s');
    stopBackend = () => releaseAndStop(startup, starting);
    const url = await plugin.baseUrl;

    const answer = fetch(`${url}/hello`);
    await waitUntil('the request waits for start-up', async () =>
      (await gatePoints(sdk)).includes('waiting_requests - 1'),
    );
    expect((await answer).status).toBe(503);
    expect(await gatePoints(sdk)).toEqual(['rejected startup_timeout 1', 'waiting_requests - 0']);

    startup.release();
    await starting;
    expect((await fetch(`${url}/hello`)).status).toBe(200);
    expect(await gatePoints(sdk)).toEqual(['rejected startup_timeout 1', 'waiting_requests - 0']);
  });

  it('counts a request let through at start-up as waiting, then no longer, with no 503', async () => {
    const startup = hold();
    const plugin = createHeldPlugin({ startup: startup.held });
    const starting = startBackend(plugin);
    stopBackend = () => releaseAndStop(startup, starting);
    const url = await plugin.baseUrl;

    const answer = fetch(`${url}/hello`);
    await waitUntil('the request waits for start-up', async () =>
      (await gatePoints(sdk)).includes('waiting_requests - 1'),
    );
    startup.release();
    await starting;

    expect((await answer).status).toBe(200);
    expect(await gatePoints(sdk)).toEqual(['waiting_requests - 0']);
  });

  it('counts every request refused while the plugin shuts down as shutdown', async () => {
    const shutdown = hold();
    const plugin = createHeldPlugin({ shutdown: shutdown.held });
    const backend = await startBackend(plugin);
    const url = await plugin.baseUrl;
    expect((await fetch(`${url}/hello`)).status).toBe(200);

    const stopping = backend.stop();
    stopBackend = async () => {
      shutdown.release();
      await stopping;
    };
    let refused = 0;
    await waitUntil('the gate refuses requests', async () => {
      const status = (await fetch(`${url}/hello`)).status;
      refused += status === 503 ? 1 : 0;
      return status === 503;
    });
    for (let i = 0; i < 2; i++) {
      expect((await fetch(`${url}/hello`)).status).toBe(503);
      refused += 1;
    }

    expect(await gatePoints(sdk)).toEqual([`rejected shutdown ${refused}`]);
  });
});

describe('lifecycle gate metrics, on the gate alone', () => {
  let sdk: MetricsSdk;
  let server: http.Server | undefined;

  /** The gate recording on the global meter (the SDK's), in front of a route, served on a loopback port. */
  async function setup() {
    const { lifecycle, startup, shutdown } = createTestLifecycle();
    const gate = createLifecycleMiddleware({
      config: mockServices.rootConfig(),
      lifecycle,
      metrics: createHttpRouterMetrics({ pluginId: 'example' }).lifecycleGate,
    });
    const app = createTestApp(gate, (_req, res) => {
      res.json({ ok: true });
    });
    server = http.createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const waiting = (count: number) =>
      waitUntil(`${count} request(s) wait`, async () =>
        (await gatePoints(sdk, 'backstage-http-router')).includes(`waiting_requests - ${count}`),
      );
    return { url, startup, shutdown, waiting };
  }

  beforeEach(() => {
    sdk = startMetricsSdk();
  });

  afterEach(async () => {
    server?.close();
    server = undefined;
    await sdk.stop();
  });

  it('counts requests still waiting when shutdown starts as shutdown 503s', async () => {
    const { url, shutdown, waiting } = await setup();

    const answers = [fetch(url), fetch(url)];
    await waiting(2);
    await shutdown();

    expect((await Promise.all(answers)).map(answer => answer.status)).toEqual([503, 503]);
    expect(await gatePoints(sdk, 'backstage-http-router')).toEqual([
      'rejected shutdown 2',
      'waiting_requests - 0',
    ]);
  });

  it('stops counting a request as waiting once its client gives up', async () => {
    const { url, startup, waiting } = await setup();

    const client = http.get(url);
    client.on('error', () => undefined);
    await waiting(1);
    client.destroy();
    await waiting(0);
    await startup();

    expect((await fetch(url)).status).toBe(200);
    expect(await gatePoints(sdk, 'backstage-http-router')).toEqual(['waiting_requests - 0']);
  });
});
