import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './freePort';

const execFileAsync = promisify(execFile);

/** How long a server may take to answer its first PING, or a cluster to report `cluster_state:ok`. */
const READY_TIMEOUT_MS = 10_000;
/** Pause between two readiness probes. */
const PROBE_INTERVAL_MS = 25;
/** The hash slots of each master of a test cluster: 16384 slots in three ranges. */
const CLUSTER_SLOTS: ReadonlyArray<readonly [number, number]> = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
];
/** How long a stopped server may take to exit before the helper gives up. */
const EXIT_TIMEOUT_MS = 5_000;

/**
 * `store.timeout` for tests that expect a healthy Redis to count every request: on a loaded machine a round trip can
 * take longer than the 100 ms default. Tests of timeouts and outages set their own.
 */
export const HEALTHY_REDIS_TIMEOUT_MS = 5_000;
export const HEALTHY_REDIS_TIMEOUT = `${HEALTHY_REDIS_TIMEOUT_MS}ms`;
/**
 * `store.timeout`, in ms, for tests that make Redis hang: what a hung Redis costs once, yet longer than a loaded
 * machine's round trip to a healthy one, so that no outage opens before the test makes one.
 */
export const OUTAGE_TIMEOUT_MS = 500;

/** A `redis-server` process started by a test on a loopback port. */
export interface RedisServerHandle {
  /** The loopback port the server listens on. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, with the password when the server requires one. */
  readonly url: string;
  /** The pid of the running process, or `undefined` while it is stopped. */
  readonly pid: number | undefined;
  /** Runs `redis-cli` against this server and returns its trimmed output. */
  cli(...args: string[]): Promise<string>;
  /** Stops the server with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL, as a crash would, and waits for it to exit. */
  kill(): Promise<void>;
  /** Freezes the process with SIGSTOP: the port stays open but nothing answers. */
  pause(): void;
  /** Thaws a paused process with SIGCONT. */
  resume(): void;
  /**
   * Starts the server again on the same port, with the same arguments followed by `extraArgs` (a later
   * argument overrides an earlier one), once it has stopped or been killed; stops it first if it runs.
   */
  restart(extraArgs?: string[]): Promise<void>;
}

/** Options for {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** Makes the server require this password (`--requirepass`). */
  password?: string;
  /** Further `redis-server` arguments, or a function giving them for the port the server is about to take. */
  args?: string[] | ((port: number) => Promise<string[]>);
}

/** A local Redis Cluster of master nodes started by a test. */
export interface RedisClusterHandle {
  /** The nodes, each a {@link RedisServerHandle}. */
  readonly nodes: readonly RedisServerHandle[];
  /** `redis://127.0.0.1:<port>` of every node. */
  readonly urls: string[];
  /** Runs `redis-cli -c` (cluster mode, following redirects) against the first node. */
  cli(...args: string[]): Promise<string>;
  /** Stops every node and removes the cluster's temporary directory. */
  stop(): Promise<void>;
}

/**
 * Throws a clear error when `redis-server` or `redis-cli` cannot be run: the Redis tests must fail, never skip,
 * where Redis is missing.
 */
function assertRedisInstalled(): void {
  for (const binary of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `The Redis tests need '${binary}' on PATH (Redis 7 or later), but running '${binary} --version' failed: ` +
          `${probe.error?.message ?? probe.stderr}. Install Redis (for example 'apt-get install redis-server') ` +
          'and run the tests again.',
      );
    }
  }
}

/** Resolves when something answers a RESP `PING` on the port; a NOAUTH error counts as an answer. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const finish = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', data => finish(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await check()) {
      return;
    }
    await new Promise(resolve => setTimeout(resolve, PROBE_INTERVAL_MS));
  }
  throw new Error(`Timed out after ${READY_TIMEOUT_MS} ms waiting for ${what}`);
}

function waitForExit(child: ChildProcess, port: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server on port ${port} did not exit`)),
      EXIT_TIMEOUT_MS,
    );
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function runCli(port: number, password: string | undefined, args: string[]) {
  const auth = password ? ['--no-auth-warning', '-a', password] : [];
  const { stdout } = await execFileAsync('redis-cli', [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    ...auth,
    ...args,
  ]);
  return stdout.trim();
}

/**
 * Starts `redis-server` on a free loopback port, without persistence, and resolves once it answers PING.
 *
 * @remarks
 * Throws a clear error when `redis-server` is not installed. Stop the server in `afterAll`/`afterEach`.
 */
export async function startRedisServer(
  options: StartRedisServerOptions & { port?: number } = {},
): Promise<RedisServerHandle> {
  assertRedisInstalled();
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const args = typeof options.args === 'function' ? await options.args(port) : options.args;
    try {
      return await startRedisServerOn(port, { password: options.password, args });
    } catch (error) {
      // Another process can take a free port before redis-server binds it: then try another port.
      const portLost = error instanceof EarlyExitError && options.port === undefined;
      if (!portLost || attempt === PORT_ATTEMPTS) throw error;
    }
  }
}

/** How many ports a server start tries before it gives up. */
const PORT_ATTEMPTS = 5;

/** redis-server exited before it answered PING: most often, its port was taken meanwhile. */
class EarlyExitError extends Error {}

async function startRedisServerOn(
  port: number,
  options: { password?: string; args?: string[] },
): Promise<RedisServerHandle> {
  const { password, args = [] } = options;
  const dir = await mkdtemp(join(tmpdir(), `redis-${port}-`));
  const serverArgs = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', dir,
    ...(password ? ['--requirepass', password] : []),
    ...args,
  ]; // prettier-ignore
  let child: ChildProcess | undefined;

  const launch = async (extraArgs: string[] = []) => {
    const launched = spawn('redis-server', [...serverArgs, ...extraArgs], { stdio: 'ignore' });
    child = launched;
    const failed = new Promise<never>((_resolve, reject) => {
      launched.once('error', reject);
      launched.once('exit', code =>
        reject(new EarlyExitError(`redis-server on port ${port} exited early with code ${code}`)),
      );
    });
    failed.catch(() => undefined);
    await Promise.race([failed, waitFor(`redis-server on port ${port}`, () => pingOnce(port))]);
  };

  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (running && running.exitCode === null && running.signalCode === null) {
      if (signal === 'SIGTERM') {
        running.kill('SIGCONT');
      }
      running.kill(signal);
      await waitForExit(running, port);
    }
  };

  try {
    await launch();
  } catch (error) {
    await halt('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const credentials = password ? `:${encodeURIComponent(password)}@` : '';
  return {
    port,
    url: `redis://${credentials}127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    cli: (...cliArgs) => runCli(port, password, cliArgs),
    async stop() {
      await halt('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
    kill: () => halt('SIGKILL'),
    pause: () => {
      child?.kill('SIGSTOP');
    },
    resume: () => {
      child?.kill('SIGCONT');
    },
    async restart(extraArgs) {
      await halt('SIGTERM');
      await launch(extraArgs);
    },
  };
}

/**
 * Starts a Redis Cluster of three masters on free loopback ports and resolves once every node reports
 * `cluster_state:ok`.
 *
 * @remarks
 * The nodes keep their `nodes-<port>.conf` in a temporary directory that {@link RedisClusterHandle.stop} removes.
 */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  assertRedisInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const nodes: RedisServerHandle[] = [];
  try {
    const busPorts: number[] = [];
    const startNode = (index: number) =>
      startRedisServer({
        // The bus port defaults to port + 10000, which may be taken or out of range, so pick one too; a retry on
        // another port picks another.
        args: async port => {
          busPorts[index] = await freePort();
          return [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', join(dir, `nodes-${port}.conf`),
            '--cluster-port', String(busPorts[index]),
            '--cluster-node-timeout', '2000',
          ]; // prettier-ignore
        },
      });
    const started = await Promise.allSettled(CLUSTER_SLOTS.map((_, index) => startNode(index)));
    for (const result of started) {
      if (result.status === 'rejected') {
        throw result.reason;
      }
      nodes.push(result.value);
    }
    // What `redis-cli --cluster create` does, without its pauses of a second: slots, distinct epochs, then MEET.
    await Promise.all(
      nodes.map(async (node, index) => {
        const [first, last] = CLUSTER_SLOTS[index];
        await node.cli('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
        await node.cli('CLUSTER', 'SET-CONFIG-EPOCH', String(index + 1));
      }),
    );
    await Promise.all(
      nodes
        .slice(1)
        .map(node =>
          node.cli('CLUSTER', 'MEET', '127.0.0.1', String(nodes[0].port), String(busPorts[0])),
        ),
    );
    await waitFor('cluster_state:ok and three known nodes on every node', async () => {
      const infos = await Promise.all(nodes.map(node => node.cli('CLUSTER', 'INFO')));
      return infos.every(
        info =>
          info.includes('cluster_state:ok') &&
          info.includes(`cluster_known_nodes:${CLUSTER_SLOTS.length}`),
      );
    });
  } catch (error) {
    await Promise.all(nodes.map(node => node.stop()));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    nodes,
    urls: nodes.map(node => node.url),
    cli: (...args) => runCli(nodes[0].port, undefined, ['-c', ...args]),
    async stop() {
      await Promise.all(nodes.map(node => node.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
