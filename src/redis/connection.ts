import type { LoggerService } from '@backstage/backend-plugin-api';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { SendCommandClusterFn } from 'rate-limit-redis';
import { HttpRouterConfigError, RedisStoreOptionError } from '../errors';
import { redisConnectionAttribute, registerRedisFallbackProbe } from './fallbackProbe';
import { createRedisBreaker } from './breaker';

/** How long one attempt to open a socket may take, and how long start-up waits for the first one. */
const CONNECT_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_MS = 1_000;
/** How long a closing client waits for its socket; ioredis reads it though its types omit it (default 2 s). */
const DISCONNECT_TIMEOUT_MS = 100;
/** Shows in `CLIENT LIST`, so that operators can tell these connections apart. */
const CONNECTION_NAME = 'backstage-http-router-rate-limit';
const DEFAULT_REDIS_PORT = 6379;
const CONNECTION_CONFIG_KEY = 'backend.rateLimit.store.connection';

/** Where the store connects, read from its `connection` option; `description` masks the password. */
export interface RedisTarget {
  mode: 'standalone' | 'cluster';
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  db?: number;
  tls: boolean;
  description: string;
}

type ParsedNode = Omit<RedisTarget, 'mode' | 'nodes'> & { host: string; port: number };

/** Masks everything up to the last `@`: a password may hold `/`, `:` or `@`. */
function maskPassword(value: string): string {
  return value.replace(/^([^:/]*:\/\/)[^]*@/, '$1***@');
}

const EXAMPLE_URLS = "such as 'redis://host:6379' or 'rediss://host:6380'";

function parseNodeUrl(input: unknown, option: string): ParsedNode {
  const shown = typeof input === 'string' ? maskPassword(input) : input;
  const url = typeof input === 'string' && URL.canParse(input) ? new URL(input) : undefined;
  const path = url?.pathname.replace(/^\//, '') ?? '';
  const problem =
    typeof input !== 'string' || input.trim() === ''
      ? `expected a URL ${EXAMPLE_URLS}, got ${JSON.stringify(shown)}`
      : !url
        ? `'${shown}' is not a URL; expected one ${EXAMPLE_URLS}`
        : url.protocol !== 'redis:' && url.protocol !== 'rediss:'
          ? `unsupported scheme '${url.protocol}' in '${shown}'; expected 'redis:' or 'rediss:' (TLS)`
          : url.hostname === ''
            ? `'${shown}' names no host`
            : url.search !== '' || url.hash !== ''
              ? `'${shown}' has a query or fragment; options other than host, port, user, password and database are not supported`
              : path !== '' && !/^\d+$/.test(path)
                ? `the path of '${url.protocol}//${url.host}/${path}' must be a database index such as '/0', got '/${path}'`
                : undefined;
  if (problem !== undefined || !url) throw new RedisStoreOptionError(option, problem ?? '');
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

/** Reads a `connection` option (one URL, or Redis Cluster node URLs); throws naming the value, password masked. */
export function parseRedisConnection(connection: unknown): RedisTarget {
  if (!Array.isArray(connection)) {
    const { host, port, ...node } = parseNodeUrl(connection, 'connection');
    return { mode: 'standalone', nodes: [{ host, port }], ...node };
  }
  const fail = (message: string) => new RedisStoreOptionError('connection', message);
  if (connection.length === 0)
    throw fail('expected at least one cluster node URL, got an empty list');
  const nodes = connection.map((value, index) => parseNodeUrl(value, `connection[${index}]`));
  const listed = nodes.map(node => node.description).join(', ');
  if (nodes.some(node => node.db !== undefined && node.db !== 0)) {
    throw fail(`Redis Cluster only has database 0, got ${listed}`);
  }
  const agree = <T>(pick: (node: ParsedNode) => T, what: string): T => {
    const values = [...new Set(nodes.map(pick).filter(value => value !== undefined))];
    if (values.length > 1) throw fail(`all cluster nodes must use the same ${what}, got ${listed}`);
    return values[0];
  };
  return {
    mode: 'cluster',
    nodes: nodes.map(({ host, port }) => ({ host, port })),
    username: agree(node => node.username, 'user'),
    password: agree(node => node.password, 'password'),
    tls: agree(node => node.tls, 'scheme'),
    description: `cluster ${nodes.map(node => node.description).join(',')}`,
  };
}

/** The Redis connections of one backend (or of one limiter used on its own), one per `connection` and timeout. */
export type RedisConnections = ReturnType<typeof createRedisConnections>;
/** A store's share of one Redis connection. */
export type RedisLease = ReturnType<RedisConnections['acquire']>;

/**
 * Creates the Redis connections the stores of one backend share: one client per Redis whatever the number of
 * limiters; another `timeoutMs` gets its own client and breaker (late for one store is no outage for the other).
 * @param options - `logger` reports outages; `outageSettleMs` is the failure-free time that ends one.
 */
export function createRedisConnections(
  options: { logger?: LoggerService; outageSettleMs?: number } = {},
) {
  const opened = new Map<string, ReturnType<typeof openConnection>>();
  return {
    /** Hands out the connection for `connection` and `timeoutMs`, opening it on first use. */
    acquire({ connection, timeoutMs }: { connection: string | string[]; timeoutMs: number }) {
      const key = JSON.stringify([connection, timeoutMs]);
      const entry = opened.get(key) ?? openConnection(connection, timeoutMs, options);
      opened.set(key, entry);
      entry.leases += 1;
      let released = false;
      /** Gives the lease back; the connection closes with its last lease. Safe to call twice. */
      const release = () => {
        if (released) return;
        released = true;
        if (--entry.leases > 0) return;
        opened.delete(key);
        entry.close();
      };
      return { ...entry.lease, release };
    },
    /** Waits up to `CONNECT_TIMEOUT_MS` for each first attempt; rejects when Redis refused the database one names. */
    async verify() {
      const open = [...opened.values()];
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise(
        resolve => (timer = setTimeout(resolve, CONNECT_TIMEOUT_MS).unref()),
      );
      await Promise.race([Promise.all(open.map(({ lease }) => lease.firstAttempt())), deadline]);
      clearTimeout(timer);
      const refusal = open.find(entry => entry.refusal)?.refusal;
      if (refusal) throw refusal;
    },
  };
}

const reconnectDelay = (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);

/**
 * Opens one ioredis client (the only code that knows ioredis) with its breaker. Commands never wait offline nor are
 * resent, so each reaches Redis or fails at once; those sent while a write is in flight go out together in the next.
 * In a cluster the first attempt ends once every master answered a `PING`, so the first requests find sockets open.
 */
function openConnection(
  connection: string | string[],
  timeoutMs: number,
  { logger, outageSettleMs }: { logger?: LoggerService; outageSettleMs?: number },
) {
  // Never throws: the config reader parsed it already.
  const target = parseRedisConnection(connection);
  const perNode: RedisOptions & { disconnectTimeout: number } = {
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    username: target.username,
    password: target.password,
    tls: target.tls ? {} : undefined,
    connectionName: CONNECTION_NAME,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
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
          enableAutoPipelining: true,
          ...target.nodes[0],
          db: target.db,
          enableOfflineQueue: false,
          retryStrategy: reconnectDelay,
        });
  let closed = false;
  // ioredis reports `ready` until the socket's close event; a client we closed must not look usable meanwhile.
  const isReady = () => !closed && client.status === 'ready';
  let attempting = true;
  let attempted = () => undefined as void;
  const firstAttempt = new Promise<void>(resolve => (attempted = resolve));
  const endFirstAttempt = () => {
    attempting = false;
    attempted();
  };
  const breaker = createRedisBreaker({
    description: target.description,
    timeoutMs,
    isReady,
    isConnecting: () => attempting,
    logger,
    outageSettleMs,
  });
  const entry = {
    leases: 0,
    /** Why Redis refused the database of the URL, until it accepts it again. */
    refusal: undefined as HttpRouterConfigError | undefined,
    lease: {
      /**
       * Sends a raw command, routed by its key in a cluster; `SCRIPT` names no key, so it goes to every master and
       * the first answer counts: a hung master must not hold up the others (it answers NOSCRIPT later, and
       * rate-limit-redis loads the script again there).
       */
      sendCommand: (({ command: [name, ...args] }) =>
        client instanceof Cluster && name === 'SCRIPT'
          ? Promise.any(client.nodes('master').map(node => node.call(name, ...args))).catch(
              (error: AggregateError) => {
                throw error.errors[0] ?? new Error('no Redis Cluster master is connected');
              },
            )
          : client.call(name, ...args)) as SendCommandClusterFn,
      isReady,
      /** Settles when the first connection attempt has ended; `undefined` once it has. */
      firstAttempt: () => (attempting ? firstAttempt : undefined),
      breaker,
    },
    close() {
      unregister();
      breaker.close();
      closed = true;
      endFirstAttempt();
      client.disconnect();
    },
  };
  const unregister = registerRedisFallbackProbe(redisConnectionAttribute(connection), () =>
    breaker.isOpen(),
  );

  const databaseRefused = (error: Error) => {
    // ioredis goes on to 'ready' in database 0 after a failed SELECT: drop the connection before any use.
    client.disconnect(true);
    if (closed || entry.refusal) return;
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
  };
  const reportError = (error: Error) => {
    const command = (error as Error & { command?: { name?: unknown } }).command;
    if (String(command?.name).toLowerCase() === 'select') databaseRefused(error);
    // While the database is refused the connection is dropped on purpose; that is no outage.
    else if (!closed && !entry.refusal) breaker.trip(error);
    endFirstAttempt();
  };
  const reportReady = () => {
    if (!closed && entry.refusal) {
      entry.refusal = undefined;
      logger?.warn(`Redis rate-limit store ${target.description} accepts its database now`);
    }
    if (!closed) breaker.reset();
    endFirstAttempt();
  };
  // Without an 'error' listener ioredis prints every failed reconnection attempt to the console.
  client.on('error', reportError);
  client.on('node error', reportError);
  // A dropped connection emits no error until the next reconnection attempt fails, which may be a while.
  client.on('close', () => reportError(new Error('the connection to Redis was closed')));
  client.on('ready', () => {
    if (!(client instanceof Cluster && attempting)) return reportReady();
    const masters = client.nodes('master').map(node => node.ping());
    const deadline = new Promise(resolve => setTimeout(resolve, CONNECT_TIMEOUT_MS).unref());
    void Promise.race([Promise.allSettled(masters), deadline]).then(reportReady);
  });
  return entry;
}
