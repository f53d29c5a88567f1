import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildReply, ServerKind, ServerSpec } from './types';

/** Where `BENCH_CPU_PROF=1` writes the children's profiles. */
export const PROFILE_DIR = join(__dirname, 'profiles');

/** How long a server may take to start or stop before the bench gives up on it. */
const COMMAND_TIMEOUT_MS = 60_000;

/** Options for {@link createServerPool}. */
export interface ServerPoolOptions {
  /** Run each child with `--cpu-prof` into {@link PROFILE_DIR}. Defaults to false. */
  cpuProf?: boolean;
}

/** Server children, one per {@link ServerKind}, forked on first use. */
export interface ServerPool {
  /** Starts a server in its kind's child; resolves to its port. */
  start(key: string, spec: ServerSpec): Promise<number>;
  /** Stops a server that {@link ServerPool.start} started. */
  stop(key: string, kind: ServerKind): Promise<void>;
  /** The CPU time, in microseconds, that a kind's child has used so far. */
  cpuUs(kind: ServerKind): Promise<number>;
  /** Stops every server and lets every child exit. */
  close(): Promise<void>;
}

/**
 * Creates the pool of server children.
 *
 * @remarks
 * The servers run in children and autocannon in this process: on two cores each gets one, and the
 * load generator never steals time from the server it measures. Children are forked with ts-node's
 * transpile-only hook, the same way `npm run bench` runs this file.
 */
export function createServerPool(options: ServerPoolOptions = {}): ServerPool {
  const { cpuProf = false } = options;
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
    const child = fork(join(__dirname, 'server.ts'), [], {
      execArgv: ['-r', 'ts-node/register/transpile-only', ...profileArgs],
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
      }, COMMAND_TIMEOUT_MS);
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
