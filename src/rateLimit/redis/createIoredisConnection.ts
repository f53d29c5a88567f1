import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisReply, SendCommandClusterDetails } from 'rate-limit-redis';
import type { RedisConnection, RedisConnectionListeners, RedisConnectionTarget } from './types';
import { withTimeout } from './withTimeout';

/** How long one attempt to open a socket to Redis may take. Requests never wait for it. */
const CONNECT_TIMEOUT_MS = 2_000;
/** The longest pause between two reconnection attempts, so that counting resumes soon after Redis is back. */
const MAX_RECONNECT_DELAY_MS = 1_000;
/**
 * How long a closed client waits for its socket to close gracefully before destroying it. ioredis reads this
 * option although its types omit it; its default of 2 s keeps a process (or a test run) alive after shutdown when
 * the socket had already gone, for example after a failed AUTH.
 */
const DISCONNECT_TIMEOUT_MS = 100;
/** Shows in `CLIENT LIST`, so that operators can tell these connections apart. */
const CONNECTION_NAME = 'backstage-http-router-rate-limit';

/** Whether ioredis reports that Redis refused the `SELECT` of the database named in the URL. */
function isSelectError(error: Error): boolean {
  const command = (error as Error & { command?: { name?: unknown } }).command;
  return typeof command?.name === 'string' && command.name.toLowerCase() === 'select';
}

function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);
}

/** The ioredis client for a target: a `Redis`, or a `Cluster` for a list of nodes. */
function openIoredisClient(target: RedisConnectionTarget): Redis | Cluster {
  const untypedOptions = { disconnectTimeout: DISCONNECT_TIMEOUT_MS };
  const perNode: RedisOptions = {
    ...untypedOptions,
    username: target.username,
    password: target.password,
    tls: target.tls ? {} : undefined,
    connectionName: CONNECTION_NAME,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Every request sends one command; under load, those issued in the same tick share one write.
    enableAutoPipelining: true,
  };
  return target.mode === 'cluster'
    ? new Cluster(target.nodes, {
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        clusterRetryStrategy: reconnectDelay,
        clusterNodeRetryStrategy: reconnectDelay,
        redisOptions: perNode,
      })
    : new Redis({
        ...perNode,
        host: target.nodes[0].host,
        port: target.nodes[0].port,
        db: target.db,
        enableOfflineQueue: false,
        retryStrategy: reconnectDelay,
      });
}

/**
 * Opens the socket to every master of a cluster, by a `PING` each, within one connect timeout.
 *
 * @remarks
 * A cluster client opens its socket to a node with the first command for that node; opened before the first
 * requests go on, those do not pay for it within their timeout and report an outage.
 */
function warmClusterMasters(cluster: Cluster): Promise<unknown> {
  const warming = Promise.allSettled(cluster.nodes('master').map(node => node.ping()));
  return withTimeout(
    warming,
    CONNECT_TIMEOUT_MS,
    () => new Error('a Redis Cluster master did not answer PING'),
  );
}

/**
 * Sends a `SCRIPT LOAD` to every master and answers with the first success: a hung master must not hold up the
 * others. An EVALSHA sent afterwards reaches each master after its SCRIPT LOAD (one connection, in order).
 */
async function loadScriptOnEveryMaster(cluster: Cluster, command: string[]): Promise<RedisReply> {
  const [name, ...args] = command;
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

/**
 * The `sendCommand` of rate-limit-redis over the client.
 *
 * @remarks
 * Not async: every counted request goes through it, and the common path needs no promise of its own.
 */
function createSendCommand(
  client: Redis | Cluster,
): (details: SendCommandClusterDetails) => Promise<RedisReply> {
  return function sendCommand({ command }) {
    if (
      client instanceof Cluster &&
      command[0].toUpperCase() === 'SCRIPT' &&
      command[1]?.toUpperCase() === 'LOAD'
    ) {
      return loadScriptOnEveryMaster(client, command);
    }
    return client.call(command[0], ...command.slice(1)) as Promise<RedisReply>;
  };
}

/**
 * Opens the ioredis client (a `Redis`, or a `Cluster` for a list of nodes) behind the Redis rate-limit store.
 *
 * @remarks
 * This is the only file that knows ioredis. The client never queues commands while disconnected
 * (`enableOfflineQueue: false`) and never retries or resends a command after a connection loss, so a command
 * either reaches Redis at once or fails at once. It sets no command timeout: each store bounds its whole wait with
 * one timer (see `createRedisRateLimitStore`), and a second timer per command would only cost time. It keeps
 * reconnecting in the background, every second at most, until {@link RedisConnection.close} is called. When
 * Redis refuses the database of the URL (`SELECT` fails), the connection is dropped before it is used, reported
 * through `onDatabaseRefused`, and tried again later: it never counts in another database.
 *
 * In a cluster, `SCRIPT LOAD` is sent to every master, because the script cache is per node and rate-limit-redis
 * would otherwise load a script on a node other than the one that owns the key. The first connection attempt
 * ends only once every master has answered a `PING` (or a connect timeout has passed), so that the first
 * requests find their node's socket open.
 *
 * @internal
 */
export function createIoredisConnection(options: {
  target: RedisConnectionTarget;
  listeners: RedisConnectionListeners;
}): RedisConnection {
  const { target, listeners } = options;
  const client = openIoredisClient(target);

  let closed = false;
  let attempting = true;
  let endFirstAttempt: () => void = () => undefined;
  const firstAttempt = new Promise<void>(resolve => {
    endFirstAttempt = () => {
      attempting = false;
      resolve();
    };
  });
  const reportError = (error: Error) => {
    if (isSelectError(error)) {
      // The handshake goes on to 'ready' in database 0 after a failed SELECT; drop that connection before any
      // command is sent on it, and try again later, in case Redis is given more databases meanwhile.
      client.disconnect(true);
      if (!closed) {
        listeners.onDatabaseRefused(error);
      }
      endFirstAttempt();
      return;
    }
    if (!closed) {
      listeners.onError(error);
    }
    endFirstAttempt();
  };
  // Without an 'error' listener ioredis would print every failed reconnection attempt to the console.
  client.on('error', reportError);
  client.on('node error', reportError);
  // A dropped connection emits no error until the next reconnection attempt fails, which may be a while.
  client.on('close', () => reportError(new Error('the connection to Redis was closed')));
  const reportReady = () => {
    if (!closed) {
      listeners.onReady();
    }
    endFirstAttempt();
  };
  client.on('ready', () => {
    if (client instanceof Cluster && attempting) {
      // The first attempt ends once every master's socket is open, or after one connect timeout.
      void warmClusterMasters(client).then(reportReady, reportReady);
      return;
    }
    reportReady();
  });

  return {
    sendCommand: createSendCommand(client),
    // ioredis reports `ready` until the socket's close event; a connection we closed must not look usable meanwhile.
    isReady: () => !closed && client.status === 'ready',
    firstAttempt: () => (attempting ? firstAttempt : undefined),
    close() {
      closed = true;
      endFirstAttempt();
      client.disconnect();
    },
  };
}
