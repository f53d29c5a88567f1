import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { callgrindArgs } from './countInstructions';
import type { ChildReply, ServerKind, ServerSpec } from './types';

/** Where `BENCH_CPU_PROF=1` writes the children's profiles. */
export const PROFILE_DIR = join(__dirname, 'profiles');

/** The server child, compiled by {@link compileBench}. */
const COMPILED_SERVER = join(__dirname, '.build', 'bench', 'server.js');

/**
 * Compiles the bench and the library to JavaScript in `bench/.build`, for the server children.
 *
 * @remarks
 * The children run compiled code, as a backend in production does, rather than through ts-node: ts-node keeps
 * the TypeScript compiler in the child's heap, which makes every full garbage collection of the child slower,
 * and its start-up under valgrind takes minutes.
 */
export function compileBench(): void {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(__dirname, 'tsconfig.json')],
    { stdio: 'inherit' },
  );
}

/** How long a server may take to start or stop before the bench gives up on it. */
const COMMAND_TIMEOUT_MS = 60_000;

/** The same under valgrind, which runs a backend's start-up some twenty times slower. */
const CALLGRIND_COMMAND_TIMEOUT_MS = 600_000;

/** Options for {@link createServerPool}. */
export interface ServerPoolOptions {
  /** Run each child with `--cpu-prof` into {@link PROFILE_DIR}. Defaults to false. */
  cpuProf?: boolean;
  /** Run each child under valgrind's callgrind, writing its dumps here. Defaults to none (plain node). */
  callgrindDir?: string;
}

/** Server children, one per {@link ServerKind}, forked on first use. */
export interface ServerPool {
  /** Starts a server in its kind's child; resolves to its port. */
  start(key: string, spec: ServerSpec): Promise<number>;
  /** Stops a server that {@link ServerPool.start} started. */
  stop(key: string, kind: ServerKind): Promise<void>;
  /** The CPU time, in microseconds, that a kind's child has used so far. */
  cpuUs(kind: ServerKind): Promise<number>;
  /** The process id of a kind's child, once it runs. */
  pid(kind: ServerKind): number | undefined;

  /** Stops every server and lets every child exit. */
  close(): Promise<void>;
}

/**
 * Creates the pool of server children.
 *
 * @remarks
 * The servers run in children and autocannon in this process: on two cores each gets one, and the
 * load generator never steals time from the server it measures. Children run the compiled code that
 * {@link compileBench} writes; call it first.
 */
export function createServerPool(options: ServerPoolOptions = {}): ServerPool {
  const { cpuProf = false, callgrindDir } = options;
  const commandTimeoutMs = callgrindDir ? CALLGRIND_COMMAND_TIMEOUT_MS : COMMAND_TIMEOUT_MS;
  const children = new Map<ServerKind, ChildProcess>();
  const waiting = new Map<string, (reply: ChildReply) => void>();

  if (cpuProf) {
    mkdirSync(PROFILE_DIR, { recursive: true });
  }

  function childFor(kind: ServerKind): ChildProcess {
    const existing = children.get(kind);
    if (existing) {
      return existing;
    }
    const profileArgs = cpuProf
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${PROFILE_DIR}`,
          `--cpu-prof-name=${kind}-${Date.now()}.cpuprofile`,
        ]
      : [];
    const nodeArgs = [
      ...profileArgs,
      // Under callgrind, V8's predictable mode (no concurrent compilation or GC threads, among other things). The
      // same variant then counts the same in two processes (within 1 %, against up to 10 % without it).
      ...(callgrindDir ? ['--predictable'] : []),
    ];
    const child = fork(COMPILED_SERVER, [], {
      // Under callgrind, valgrind runs node; the IPC channel passes through it to node.
      ...(callgrindDir
        ? {
            execPath: 'valgrind',
            execArgv: [...callgrindArgs(callgrindDir, kind), process.execPath, ...nodeArgs],
          }
        : { execArgv: nodeArgs }),
      env: { ...process.env, NODE_ENV: 'production' },
    });
    child.on('message', message => {
      const reply = message as ChildReply;
      const resolve = waiting.get(`${kind}:${reply.key}`);
      waiting.delete(`${kind}:${reply.key}`);
      resolve?.(reply);
    });
    child.on('exit', code => {
      children.delete(kind);
      for (const [id, resolve] of waiting) {
        if (id.startsWith(`${kind}:`)) {
          waiting.delete(id);
          resolve({
            type: 'failed',
            key: id,
            message: `the ${kind} server child exited (${code})`,
          });
        }
      }
    });
    children.set(kind, child);
    return child;
  }

  function ask(kind: ServerKind, key: string, send: (child: ChildProcess) => void) {
    return new Promise<ChildReply>(resolve => {
      const id = `${kind}:${key}`;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve({ type: 'failed', key, message: `no answer from the ${kind} child in time` });
      }, commandTimeoutMs);
      waiting.set(id, reply => {
        clearTimeout(timer);
        resolve(reply);
      });
      send(childFor(kind));
    });
  }

  return {
    async start(key, spec) {
      const reply = await ask(spec.kind, key, child => child.send({ type: 'start', key, spec }));
      if (reply.type !== 'started') {
        throw new Error(reply.type === 'failed' ? reply.message : `unexpected reply ${reply.type}`);
      }
      return reply.port;
    },
    async stop(key, kind) {
      if (children.has(kind)) {
        await ask(kind, key, child => child.send({ type: 'stop', key }));
      }
    },
    async cpuUs(kind) {
      const reply = await ask(kind, 'cpu', child => child.send({ type: 'cpu', key: 'cpu' }));
      if (reply.type !== 'cpu') {
        throw new Error(reply.type === 'failed' ? reply.message : `unexpected reply ${reply.type}`);
      }
      return reply.userUs + reply.systemUs;
    },
    pid(kind) {
      return children.get(kind)?.pid;
    },

    async close() {
      await Promise.all(
        [...children.values()].map(
          child =>
            new Promise<void>(resolve => {
              child.once('exit', () => resolve());
              child.send({ type: 'exit' });
            }),
        ),
      );
    },
  };
}
