import { RedisStoreOptionError } from '../../errors';
import type { RedisConnectionTarget } from './types';

/** The port Redis listens on when a URL names none. */
const DEFAULT_REDIS_PORT = 6379;
const SCHEMES = ['redis:', 'rediss:'];

interface ParsedNode {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls: boolean;
  description: string;
}

/** Masks the password of a URL-like string that may not parse, so that error messages never show it. */
function maskPassword(value: string): string {
  // Everything up to the last `@` is masked, user name included: a password may hold `/`, `:` or `@`, which
  // would end a narrower pattern early and print the rest of the password.
  return value.replace(/^([^:/]*:\/\/)[^]*@/, '$1***@');
}

function parseNodeUrl(input: unknown, option: string): ParsedNode {
  const value = typeof input === 'string' ? maskPassword(input) : input;
  if (typeof input !== 'string' || input.trim() === '') {
    throw new RedisStoreOptionError(
      option,
      `expected a URL such as 'redis://host:6379' or 'rediss://host:6380', got ${JSON.stringify(value)}`,
    );
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new RedisStoreOptionError(
      option,
      `'${value}' is not a URL; expected one such as 'redis://host:6379' or 'rediss://host:6380'`,
    );
  }
  if (!SCHEMES.includes(url.protocol)) {
    throw new RedisStoreOptionError(
      option,
      `unsupported scheme '${url.protocol}' in '${value}'; expected 'redis:' or 'rediss:' (TLS)`,
    );
  }
  if (url.hostname === '') {
    throw new RedisStoreOptionError(option, `'${value}' names no host`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new RedisStoreOptionError(
      option,
      `'${value}' has a query or fragment; options other than host, port, user, password and database are not supported`,
    );
  }
  let db: number | undefined;
  const path = url.pathname.replace(/^\//, '');
  if (path !== '') {
    if (!/^\d+$/.test(path)) {
      throw new RedisStoreOptionError(
        option,
        `the path of '${url.protocol}//${url.host}/${path}' must be a database index such as '/0', got '/${path}'`,
      );
    }
    db = Number(path);
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  // Hosts in brackets are IPv6 literals; the client wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const credentials = username || password ? `${url.username}${password ? ':***' : ''}@` : '';
  return {
    host,
    port: url.port ? Number(url.port) : DEFAULT_REDIS_PORT,
    username,
    password,
    db,
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
  return values[0] as T;
}

/**
 * Reads the store's `connection` option: one `redis://`/`rediss://` URL for a server, or a list of node URLs for
 * a Redis Cluster.
 *
 * @remarks
 * Throws {@link RedisStoreOptionError} naming the value when a URL cannot be used: not a URL, another scheme, no
 * host, a query string, a path that is not a database index, a database in a cluster, or cluster nodes that
 * disagree on scheme or credentials. The `description` of the result masks the password.
 *
 * @internal
 */
export function parseRedisConnection(connection: unknown): RedisConnectionTarget {
  if (!Array.isArray(connection)) {
    const node = parseNodeUrl(connection, 'connection');
    return {
      mode: 'standalone',
      nodes: [{ host: node.host, port: node.port }],
      username: node.username,
      password: node.password,
      db: node.db,
      tls: node.tls,
      description: node.description,
    };
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
    nodes: nodes.map(node => ({ host: node.host, port: node.port })),
    username: agree(nodes, node => node.username, 'user'),
    password: agree(nodes, node => node.password, 'password'),
    tls: agree(nodes, node => node.tls, 'scheme'),
    description: `cluster ${nodes.map(node => node.description).join(',')}`,
  };
}
