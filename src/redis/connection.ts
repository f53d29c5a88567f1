import type { LoggerService } from '@backstage/backend-plugin-api';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisReply, SendCommandClusterFn } from 'rate-limit-redis';
import { HttpRouterConfigError, RedisStoreOptionError } from '../errors';
import { redisConnectionAttribute, registerRedisFallbackProbe } from './fallbackProbe';
import { createRedisBreaker, type RedisBreaker } from './breaker';

/** How long one attempt to open a socket may take, and how long start-up waits for the first one. */
const CONNECT_TIMEOUT_MS = 2_000;
/** The longest pause between two reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 1_000;
/** How long a closing client waits for its socket; ioredis reads it though its types omit it (default 2 s). */
const DISCONNECT_TIMEOUT_MS = 100;
/** Shows in `CLIENT LIST`, so that operators can tell these connections apart. */
const CONNECTION_NAME = 'backstage-http-router-rate-limit';
const DEFAULT_REDIS_PORT = 6379;
const CONNECTION_CONFIG_KEY = 'backend.rateLimit.store.connection';

/** Where the store connects, read from its `connection` option. */
export interface RedisTarget {
  mode: 'standalone' | 'cluster';
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  /** The database index (standalone only). */
  db?: number;
  tls: boolean;
  /** The connection with its password masked, for log lines. */
  description: string;
}

type ParsedNode = Omit<RedisTarget, 'mode' | 'nodes'> & { host: string; port: number };

/** Masks everything up to the last `@`: a password may hold `/`, `:` or `@`. */
function maskPassword(value: string): string {
  return value.replace(/^([^:/]*:\/\/)[^]*@/, '$1***@');
}

function parseNodeUrl(input: unknown, option: string): ParsedNode {
  const shown = typeof input === 'string' ? maskPassword(input) : input;
  const fail = (message: string) => new RedisStoreOptionError(option, message);
  if (typeof input !== 'string' || input.trim() === '') {
    throw fail(
      `expected a URL such as 'redis://host:6379' or 'rediss://host:6380', got ${JSON.stringify(shown)}`,
    );
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw fail(
      `'${shown}' is not a URL; expected one such as 'redis://host:6379' or 'rediss://host:6380'`,
    );
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw fail(
      `unsupported scheme '${url.protocol}' in '${shown}'; expected 'redis:' or 'rediss:' (TLS)`,
    );
  }
  if (url.hostname === '') {
    throw fail(`'${shown}' names no host`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw fail(
      `'${shown}' has a query or fragment; options other than host, port, user, password and database are not supported`,
    );
  }
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) {
    throw fail(
      `the path of '${url.protocol}//${url.host}/${path}' must be a database index such as '/0', got '/${path}'`,
    );
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const credentials = username || password ? `${url.username}${password ? ':***' : ''}@` : '';
  return {
    // Hosts in brackets are IPv6 literals; the client wants them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : DEFAULT_REDIS_PORT,
    username,
    password,
    db: path === '' ? undefined : Number(path),
    tls: url.protocol === 'rediss:',
    description: `${url.protocol}//${credentials}${url.host}${path ? `/${path}` : ''}`,
  };
}

function agree<T>(nodes: ParsedNode[], pick: (node: ParsedNode) => T, what: string): T {
  const values = [...new Set(nodes.map(pick).filter(value => value !== undefined))];
  if (values.length > 1) {
    throw new RedisStoreOptionError(
      'connection',
      `all cluster nodes must use the same ${what}, got ${nodes.map(node => node.description).join(', ')}`,
    );
  }
  return values[0];
}

/** Reads a `connection` option (one URL, or Redis Cluster node URLs); throws naming the value, password masked. */
export function parseRedisConnection(connection: unknown): RedisTarget {
  if (!Array.isArray(connection)) {
    const { host, port, ...node } = parseNodeUrl(connection, 'connection');
    return { mode: 'standalone', nodes: [{ host, port }], ...node };
  }
  if (connection.length === 0) {
    throw new RedisStoreOptionError(
      'connection',
      'expected at least one cluster node URL, got an empty list',
    );
  }
  const nodes = connection.map((value, index) => parseNodeUrl(value, `connection[${index}]`));
  if (nodes.some(node => node.db !== undefined && node.db !== 0)) {
    throw new RedisStoreOptionError(
      'connection',
      `Redis Cluster only has database 0, got ${nodes.map(node => node.description).join(', ')}`,
    );
  }
  return {
    mode: 'cluster',
    nodes: nodes.map(({ host, port }) => ({ host, port })),
    username: agree(nodes, node => node.username, 'user'),
    password: agree(nodes, node => node.password, 'password'),
    tls: agree(nodes, node => node.tls, 'scheme'),
    description: `cluster ${nodes.map(node => node.description).join(',')}`,
  };
}

/** A store's share of one Redis connection. */
export interface RedisLease {
  /** Sends a raw command, routed by key in a cluster; the shape rate-limit-redis expects. */
  sendCommand: SendCommandClusterFn;
  /** Whether the connection can send commands now. */
  isReady(): boolean;
  /** Settles when the first connection attempt has ended; `undefined` once it has. */
  firstAttempt(): Promise<void> | undefined;
  /** Shared by every lease on the connection. */
  breaker: RedisBreaker;
  /** Gives the lease back; the connection closes with its last lease. Safe to call twice. */
  release(): void;
}

/** The Redis connections of one backend (or of one limiter used on its own), one per `connection` and timeout. */
export interface RedisConnections {
  /** Hands out the connection for `connection` and `timeoutMs`, opening it on first use. */
  acquire(options: { connection: string | string[]; timeoutMs: number }): RedisLease;
  /** Waits (2 s at most) for each first attempt; rejects when Redis refused the database one names. */
  verify(): Promise<void>;
}

/** Options for {@link createRedisConnections}. */
export interface RedisConnectionsOptions {
  /** Reports outages, once each when they start and end. Defaults to none. */
  logger?: LoggerService;
  /** How long without a failure ends an outage in the log. Defaults to 5 seconds. */
  outageSettleMs?: number;
}

interface Entry {
  lease: Omit<RedisLease, 'release'>;
  leases: number;
  /** Why Redis refused the database of the URL, until it accepts it again. */
  refusal?: HttpRouterConfigError;
  close(): void;
}

/**
 * Creates the Redis connections the stores of one backend share: one client per Redis whatever the number of
 * limiters; another `timeoutMs` gets its own client and breaker (late for one store is no outage for the other).
 */
export function createRedisConnections(options: RedisConnectionsOptions = {}): RedisConnections {
  const entries = new Map<string, Entry>();
  return {
    acquire({ connection, timeoutMs }) {
      const key = JSON.stringify([connection, timeoutMs]);
      let entry = entries.get(key);
      if (!entry) {
        entry = openEntry(connection, timeoutMs, options);
        entries.set(key, entry);
      }
      const opened = entry;
      opened.leases += 1;
      let released = false;
      return {
        ...opened.lease,
        release() {
          if (released) return;
          released = true;
          opened.leases -= 1;
          if (opened.leases === 0 && entries.get(key) === opened) {
            entries.delete(key);
            opened.close();
          }
        },
      };
    },
    async verify() {
      const open = [...entries.values()];
      await Promise.all(
        open.map(({ lease }) => {
          const attempt = lease.firstAttempt();
          if (!attempt) return undefined;
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<void>(resolve => {
            timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
          });
          return Promise.race([attempt, deadline]).finally(() => clearTimeout(timer));
        }),
      );
      const refused = open.find(entry => entry.refusal);
      if (refused?.refusal) throw refused.refusal;
    },
  };
}

function openEntry(
  connection: string | string[],
  timeoutMs: number,
  options: RedisConnectionsOptions,
): Entry {
  const { logger, outageSettleMs } = options;
  // Never throws: the config reader parsed it already.
  const target = parseRedisConnection(connection);
  const entry: Entry = {} as Entry;
  const client = openIoredisClient(target, {
    onError(error) {
      // While the database is refused the connection is dropped on purpose; that is no outage.
      if (!entry.refusal) breaker.trip(error);
    },
    onReady() {
      if (entry.refusal) {
        entry.refusal = undefined;
        logger?.warn(`Redis rate-limit store ${target.description} accepts its database now`);
      }
      breaker.reset();
    },
    onDatabaseRefused(error) {
      if (entry.refusal) return;
      entry.refusal = new HttpRouterConfigError(
        CONNECTION_CONFIG_KEY,
        `Redis at ${target.description} refused database ${target.db ?? 0} (${error.message}); name a database ` +
          "that this server has (0 to its 'databases' setting minus one, 0 to 15 by default)",
        { cause: error },
      );
      logger?.error(
        `Redis rate-limit store ${target.description}: ${entry.refusal.message}. Until that is fixed, requests ` +
          'are counted in memory on this instance, or refused with 503 where the store fails closed; they are ' +
          'never counted in another database',
      );
    },
  });
  const breaker = createRedisBreaker({
    description: target.description,
    timeoutMs,
    isReady: client.isReady,
    isConnecting: () => client.firstAttempt() !== undefined,
    logger,
    outageSettleMs,
  });
  const unregister = registerRedisFallbackProbe(redisConnectionAttribute(connection), () =>
    breaker.isOpen(),
  );
  return Object.assign(entry, {
    lease: { ...client, breaker },
    leases: 0,
    close() {
      unregister();
      breaker.close();
      client.close();
    },
  });
}

interface ClientListeners {
  /** The connection failed, or Redis answered with an error that is not about a command. */
  onError(error: Error): void;
  onReady(): void;
  /** Redis refused the `SELECT` of the URL's database; the connection was dropped before use. */
  onDatabaseRefused(error: Error): void;
}

function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);
}

/**
 * Opens the ioredis client (the only code that knows ioredis): commands never queue nor are resent, so each reaches
 * Redis or fails at once. In a cluster `SCRIPT LOAD` goes to every master (the script cache is per node), and the
 * first attempt ends once every master answered a `PING`, so the first requests find their node's socket open.
 */
function openIoredisClient(target: RedisTarget, listeners: ClientListeners) {
  const perNode: RedisOptions & { disconnectTimeout: number } = {
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    username: target.username,
    password: target.password,
    tls: target.tls ? {} : undefined,
    connectionName: CONNECTION_NAME,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: true,
  };
  const client =
    target.mode === 'cluster'
      ? new Cluster(target.nodes, {
          enableOfflineQueue: false,
          enableAutoPipelining: true,
          clusterRetryStrategy: reconnectDelay,
          clusterNodeRetryStrategy: reconnectDelay,
          redisOptions: perNode,
        })
      : new Redis({
          ...perNode,
          ...target.nodes[0],
          db: target.db,
          enableOfflineQueue: false,
          retryStrategy: reconnectDelay,
        });

  let closed = false;
  let attempting = true;
  let endFirstAttempt = () => undefined as void;
  const firstAttempt = new Promise<void>(resolve => {
    endFirstAttempt = () => {
      attempting = false;
      resolve();
    };
  });
  const reportError = (error: Error) => {
    const command = (error as Error & { command?: { name?: unknown } }).command;
    if (String(command?.name).toLowerCase() === 'select') {
      // ioredis goes on to 'ready' in database 0 after a failed SELECT: drop the connection before any use.
      client.disconnect(true);
      if (!closed) listeners.onDatabaseRefused(error);
    } else if (!closed) {
      listeners.onError(error);
    }
    endFirstAttempt();
  };
  const reportReady = () => {
    if (!closed) listeners.onReady();
    endFirstAttempt();
  };
  // Without an 'error' listener ioredis prints every failed reconnection attempt to the console.
  client.on('error', reportError);
  client.on('node error', reportError);
  // A dropped connection emits no error until the next reconnection attempt fails, which may be a while.
  client.on('close', () => reportError(new Error('the connection to Redis was closed')));
  client.on('ready', () => {
    if (client instanceof Cluster && attempting) {
      const masters = client.nodes('master').map(node => node.ping());
      const deadline = new Promise(resolve => setTimeout(resolve, CONNECT_TIMEOUT_MS).unref());
      void Promise.race([Promise.allSettled(masters), deadline]).then(reportReady);
      return;
    }
    reportReady();
  });

  const sendCommand: SendCommandClusterFn = ({ command }) => {
    const [name, ...args] = command;
    if (client instanceof Cluster && /^script$/i.test(name) && /^load$/i.test(args[0] ?? '')) {
      return loadScriptOnEveryMaster(client, name, args);
    }
    return client.call(name, ...args) as Promise<RedisReply>;
  };
  return {
    sendCommand,
    // ioredis reports `ready` until the socket's close event; a client we closed must not look usable meanwhile.
    isReady: () => !closed && client.status === 'ready',
    firstAttempt: () => (attempting ? firstAttempt : undefined),
    close() {
      closed = true;
      endFirstAttempt();
      client.disconnect();
    },
  };
}

/** Answers with the first master's success: a hung master must not hold up the others. */
async function loadScriptOnEveryMaster(
  cluster: Cluster,
  name: string,
  args: string[],
): Promise<RedisReply> {
  const loads = cluster
    .nodes('master')
    .map(node => node.call(name, ...args) as Promise<RedisReply>);
  if (loads.length === 0) {
    throw new Error('No Redis Cluster master is known yet');
  }
  try {
    return await Promise.any(loads);
  } catch (error) {
    throw error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  }
}
