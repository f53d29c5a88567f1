import type { Config } from '@backstage/config';
import { METHODS } from 'node:http';
import { isIP } from 'node:net';
import { compilePolicyPath } from '../authPolicy/paths';
import { HttpRouterConfigError, describeValue } from '../errors';
import { MAX_TIMER_DELAY_MS, readDurationMs } from '../readDurationMs';
import { parseRedisConnection } from '../redis/connection';
import type {
  PrincipalRateLimits,
  PrincipalRequestLimit,
  RateLimitOptions,
  RateLimitRouteRule,
  RateLimitSettings,
  RateLimitStoreOptions,
} from './types';

/** Where the rate limit settings live in app-config. */
export const RATE_LIMIT_CONFIG_KEY = 'backend.rateLimit';
/** Where the express `trust proxy` setting lives in app-config. */
export const TRUST_PROXY_CONFIG_KEY = 'backend.trustProxy';

/**
 * The settings of `backend.rateLimit: true` and of every key left out: a page load makes a few dozen calls, so a
 * busy user with several tabs stays well under 1000 a minute, while a script flooding the backend passes it.
 */
export const DEFAULT_RATE_LIMIT_OPTIONS: Readonly<RateLimitOptions> = Object.freeze({
  windowMs: 60_000,
  limit: 1000,
  ipAllowList: Object.freeze(['127.0.0.1', '::1']),
  skipSuccessfulRequests: false,
  skipFailedRequests: false,
  passOnStoreError: true,
  store: Object.freeze({ type: 'memory' as const }),
});

/** The spelling of `skipSuccessfulRequests` in upstream's documentation, accepted with a warning. */
const MISSPELLED_SKIP_SUCCESSFUL_KEY = 'skipSuccesfulRequests';
const PRINCIPAL_KEYS = ['userRequestLimit', 'serviceRequestLimit', 'failedAuthenticationLimit'];
/** Keys of the top-level block that a `plugin.<pluginId>` block may also set. */
const LIMITER_KEYS = [
  'window',
  'incomingRequestLimit',
  'ipAllowList',
  'skipSuccessfulRequests',
  'skipFailedRequests',
  'passOnStoreError',
  'store',
  'webSocketConnectionLimit',
  'dryRun',
  ...PRINCIPAL_KEYS,
];
const TOP_LEVEL_KEYS = [...LIMITER_KEYS, 'global', 'plugin', 'keySecret'];
const ROUTE_LIMIT_KEYS = ['incomingRequestLimit', 'userRequestLimit', 'serviceRequestLimit'];
const ROUTE_KEYS = ['name', 'path', 'method', 'window', 'dryRun', ...ROUTE_LIMIT_KEYS];
/** A rule's name goes into `RateLimit-Policy` names, metric attributes and store keys. */
const PATH_EXPECTED =
  "a path in the syntax of auth policy paths, such as '/v2/tasks' or '/entities/:kind'";
/** A rule named as a budget kind would share its plugin's budget names (`plugin-<pluginId>-user`). */
const BUDGET_KINDS = ['user', 'service', 'address', 'failed-authentication'];
const ROUTE_NAME = /^[A-Za-z0-9][\w.-]*$/;
const ROUTE_NAME_EXPECTED = `letters, digits, - _ . (not first), unique in the plugin, none of ${BUDGET_KINDS.join(', ')}`;
const STORE_KEYS = { memory: ['type'], redis: ['type', 'connection', 'timeout', 'retryAfter'] };
const POSITIVE = 'a positive whole number of requests';
const UNLIMITED = 'unlimited';
const REDIS_CONNECTION_EXPECTED =
  "a Redis URL such as 'redis://localhost:6379', or cluster node URLs as a list or separated by commas";

/**
 * Reads `backend.rateLimit` (and `backend.trustProxy`, for a warning) into plain options, one set per limiter.
 *
 * @remarks
 * Pure and frozen: it never logs, and returns problems that should not stop the backend as `warnings`. Absent or
 * `false` is off; `true` is the defaults; in the object form each `plugin.<pluginId>` block takes every key it
 * leaves out from the top-level block. Throws {@link HttpRouterConfigError} naming the full key, the value and
 * what is accepted for any value that cannot be used, and for an unknown `store.type`.
 *
 * @param config - The root config.
 */
export function readRateLimitOptions(config: Config): RateLimitSettings {
  const raw = config.getOptional(RATE_LIMIT_CONFIG_KEY);
  if (raw === undefined || raw === false || raw === 'false') {
    return freeze(undefined, {}, []);
  }
  if (raw === true || raw === 'true') {
    return freeze(DEFAULT_RATE_LIMIT_OPTIONS, {}, trustProxyWarnings(config));
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HttpRouterConfigError(
      RATE_LIMIT_CONFIG_KEY,
      `expected true (rate limiting with defaults) or an object of rate limit settings, got ${describeValue(raw)}`,
    );
  }
  const block = config.getConfig(RATE_LIMIT_CONFIG_KEY);
  if (block.has('routes')) {
    throw new HttpRouterConfigError(
      `${RATE_LIMIT_CONFIG_KEY}.routes`,
      `expected route rules in a plugin block, at '${RATE_LIMIT_CONFIG_KEY}.plugin.<pluginId>.routes'`,
    );
  }
  const warnings = unknownKeys(block, RATE_LIMIT_CONFIG_KEY, TOP_LEVEL_KEYS, true);
  const topLevel = readBlock(block, RATE_LIMIT_CONFIG_KEY, DEFAULT_RATE_LIMIT_OPTIONS, warnings);
  const global =
    readBoolean(block, 'global', RATE_LIMIT_CONFIG_KEY) === false ? undefined : topLevel;
  const plugins: Record<string, RateLimitOptions> = {};
  const pluginsKey = `${RATE_LIMIT_CONFIG_KEY}.plugin`;
  const pluginBlocks = readObject(block, 'plugin', RATE_LIMIT_CONFIG_KEY);
  for (const pluginId of pluginBlocks?.keys() ?? []) {
    const fullKey = `${pluginsKey}.${pluginId}`;
    const pluginBlock = readObject(pluginBlocks!, pluginId, pluginsKey);
    if (!pluginBlock) {
      throw new HttpRouterConfigError(
        fullKey,
        'expected an object of rate limit settings, got null',
      );
    }
    warnings.push(...unknownKeys(pluginBlock, fullKey, [...LIMITER_KEYS, 'routes'], true));
    const options = readBlock(pluginBlock, fullKey, topLevel, warnings);
    const routes = readRoutes(pluginBlock, fullKey, options, warnings);
    plugins[pluginId] = routes ? { ...options, routes } : options;
  }
  if (global || Object.keys(plugins).length > 0) {
    warnings.push(...trustProxyWarnings(config));
  }
  const keySecret = block.getOptional('keySecret');
  if (keySecret !== undefined && (typeof keySecret !== 'string' || keySecret === '')) {
    // Without the value: it is a secret.
    throw new HttpRouterConfigError(
      `${RATE_LIMIT_CONFIG_KEY}.keySecret`,
      'expected a non-empty string',
    );
  }
  return freeze(global, plugins, warnings, keySecret);
}

function freeze(
  global: Readonly<RateLimitOptions> | undefined,
  plugins: Record<string, RateLimitOptions>,
  warnings: string[],
  keySecret?: string,
): RateLimitSettings {
  for (const options of [global, ...Object.values(plugins)]) {
    if (options && !Object.isFrozen(options)) {
      if (options.principals) Object.freeze(options.principals);
      for (const rule of options.routes ?? []) {
        if (rule.options.principals) Object.freeze(rule.options.principals);
        Object.freeze(rule.options);
        Object.freeze(rule);
      }
      if (options.routes) Object.freeze(options.routes);
      Object.freeze(options);
    }
  }
  return Object.freeze({
    global,
    plugins: Object.freeze(plugins),
    warnings: Object.freeze(warnings),
    ...(keySecret === undefined ? {} : { keySecret }),
  });
}

/** Reads the keys shared by the top-level and plugin blocks, taking what is left out from `parent`. */
function readBlock(
  block: Config,
  fullKey: string,
  parent: Readonly<RateLimitOptions>,
  warnings: string[],
): RateLimitOptions {
  // The store comes first: the longest window accepted depends on it.
  const store = readStore(block, fullKey) ?? parent.store;
  const options: RateLimitOptions = {
    windowMs: readWindowMs(block, fullKey, store, parent.windowMs),
    limit: readPositive(block, 'incomingRequestLimit', fullKey, POSITIVE) ?? parent.limit,
    ipAllowList: readIpAllowList(block, fullKey) ?? parent.ipAllowList,
    skipSuccessfulRequests:
      readSkipSuccessfulRequests(block, fullKey, warnings) ?? parent.skipSuccessfulRequests,
    skipFailedRequests:
      readBoolean(block, 'skipFailedRequests', fullKey) ?? parent.skipFailedRequests,
    passOnStoreError: readBoolean(block, 'passOnStoreError', fullKey) ?? parent.passOnStoreError,
    store,
  };
  const principals: PrincipalRateLimits = {
    user: readPrincipalLimit(block, 'userRequestLimit', fullKey) ?? parent.principals?.user,
    service:
      readPrincipalLimit(block, 'serviceRequestLimit', fullKey) ?? parent.principals?.service,
    failedAuthentication:
      readPositive(block, 'failedAuthenticationLimit', fullKey, POSITIVE) ??
      parent.principals?.failedAuthentication,
  };
  for (const kind of ['user', 'service', 'failedAuthentication'] as const) {
    if (principals[kind] === undefined) delete principals[kind];
  }
  // Without any per-principal key the options are exactly as before those keys existed.
  if (Object.keys(principals).length > 0) options.principals = principals;
  const connections =
    readPositive(
      block,
      'webSocketConnectionLimit',
      fullKey,
      'a positive whole number of open WebSockets',
    ) ?? parent.webSocketConnectionLimit;
  if (connections !== undefined) options.webSocketConnectionLimit = connections;
  if ((readBoolean(block, 'dryRun', fullKey) ?? parent.dryRun) === true) options.dryRun = true;
  return options;
}

/** Reads a plugin block's `routes`: each rule takes the keys it leaves out from the plugin's `options`. */
function readRoutes(
  block: Config,
  fullKey: string,
  options: Readonly<RateLimitOptions>,
  warnings: string[],
): RateLimitRouteRule[] | undefined {
  if (!block.has('routes')) return undefined;
  let rules: Config[];
  try {
    rules = block.getConfigArray('routes');
  } catch (error) {
    throw expectedError(
      block,
      'routes',
      fullKey,
      'a list of rules { path, method?, limits }',
      error,
    );
  }
  const names = new Set<string>();
  return rules.map((rule, index) => {
    const ruleKey = `${fullKey}.routes[${index}]`;
    // Unknown keys stop the start-up: the reader of a limiter block would read some of them (such as `store`).
    const problems = unknownKeys(rule, ruleKey, ROUTE_KEYS);
    if (!ROUTE_LIMIT_KEYS.some(key => rule.has(key))) {
      problems.push(`expected at least one of ${ROUTE_LIMIT_KEYS.join(', ')}`);
    }
    if (problems.length > 0) throw new HttpRouterConfigError(ruleKey, problems.join('; '));
    const name = readString(rule, 'name', ruleKey) ?? `route-${index}`;
    if (!ROUTE_NAME.test(name) || names.has(name) || BUDGET_KINDS.includes(name)) {
      throw expectedError(rule, 'name', ruleKey, ROUTE_NAME_EXPECTED);
    }
    names.add(name);
    const path = readString(rule, 'path', ruleKey);
    try {
      if (path === undefined) throw new TypeError('none given');
      // Request paths start with '/': a rule without one would never count anything.
      if (path !== '*' && !path.startsWith('/')) throw new TypeError("it does not start with '/'");
      compilePolicyPath(path);
    } catch (error) {
      throw expectedError(
        rule,
        'path',
        ruleKey,
        `${PATH_EXPECTED} (${(error as Error).message})`,
        error,
      );
    }
    const ruleOptions = readBlock(rule, ruleKey, options, warnings);
    // The plugin's failed-authentication cut-off and WebSocket limit are its own, not each rule's.
    delete ruleOptions.webSocketConnectionLimit;
    const { failedAuthentication: _, ...principals } = ruleOptions.principals ?? {};
    if (Object.keys(principals).length > 0) ruleOptions.principals = principals;
    else delete ruleOptions.principals;
    const raw = rule.getOptional('method');
    const methods = raw === undefined ? undefined : [raw].flat().map(m => String(m).toUpperCase());
    if (methods?.length === 0 || methods?.some(method => !METHODS.includes(method))) {
      throw expectedError(
        rule,
        'method',
        ruleKey,
        'an HTTP method such as POST, or a list of them',
      );
    }
    return { name, path: path!, ...(methods && { methods }), options: ruleOptions };
  });
}

function readString(block: Config, key: string, fullKey: string): string | undefined {
  const value = block.getOptional(key);
  if (value === undefined || (typeof value === 'string' && value !== '')) return value;
  throw expectedError(block, key, fullKey, 'a non-empty string');
}

function expectedError(block: Config, key: string, fullKey: string, what: string, cause?: unknown) {
  return new HttpRouterConfigError(
    `${fullKey}.${key}`,
    `expected ${what}, got ${describeValue(block.getOptional(key))}`,
    cause === undefined ? undefined : { cause },
  );
}

function readBoolean(block: Config, key: string, fullKey: string): boolean | undefined {
  try {
    return block.getOptionalBoolean(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, 'true or false', error);
  }
}

function readObject(block: Config, key: string, fullKey: string): Config | undefined {
  try {
    return block.getOptionalConfig(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, 'an object', error);
  }
}

function readPositive(
  block: Config,
  key: string,
  fullKey: string,
  what: string,
): number | undefined {
  let value: number | undefined;
  try {
    value = block.getOptionalNumber(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, what, error);
  }
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw expectedError(block, key, fullKey, what);
  }
  return value;
}

function readPrincipalLimit(
  block: Config,
  key: string,
  fullKey: string,
): PrincipalRequestLimit | undefined {
  if (block.getOptional(key) === UNLIMITED) return UNLIMITED;
  return readPositive(block, key, fullKey, `${POSITIVE}, or '${UNLIMITED}'`);
}

/** Setting both spellings in one block throws: which one wins would be a guess. */
function readSkipSuccessfulRequests(block: Config, fullKey: string, warnings: string[]) {
  if (!block.has(MISSPELLED_SKIP_SUCCESSFUL_KEY)) {
    return readBoolean(block, 'skipSuccessfulRequests', fullKey);
  }
  if (block.has('skipSuccessfulRequests')) {
    throw new HttpRouterConfigError(
      `${fullKey}.${MISSPELLED_SKIP_SUCCESSFUL_KEY}`,
      `set either skipSuccessfulRequests or its deprecated misspelling ${MISSPELLED_SKIP_SUCCESSFUL_KEY} (but not both); keep skipSuccessfulRequests`,
    );
  }
  warnings.push(
    `Config key '${fullKey}.${MISSPELLED_SKIP_SUCCESSFUL_KEY}' is a deprecated misspelling; rename it to '${fullKey}.skipSuccessfulRequests'`,
  );
  return readBoolean(block, MISSPELLED_SKIP_SUCCESSFUL_KEY, fullKey);
}

/** Whether `entry` is an IP address or a CIDR range whose prefix length fits its family. */
export function isIpAllowListEntry(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return (
    prefix === undefined ||
    (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))
  );
}

function readIpAllowList(block: Config, fullKey: string): readonly string[] | undefined {
  const key = 'ipAllowList';
  let entries: string[] | undefined;
  try {
    entries = block.getOptionalStringArray(key);
  } catch (error) {
    throw expectedError(block, key, fullKey, 'a list of IP addresses and CIDR ranges', error);
  }
  entries?.forEach((entry, index) => {
    if (!isIpAllowListEntry(entry)) {
      throw new HttpRouterConfigError(
        `${fullKey}.${key}[${index}]`,
        `expected an IP address such as '10.0.0.1' or '::1', or a CIDR range such as '10.0.0.0/8' or '2001:db8::/32', got ${describeValue(entry)}`,
      );
    }
  });
  return entries && Object.freeze([...entries]);
}

/**
 * Reads `window`; only the memory store, which sweeps on `setInterval`, is held to the longest timer delay. Past
 * 2^53 ms Redis refuses the expiry of every count, so even Redis gets a bound.
 */
function readWindowMs(
  block: Config,
  fullKey: string,
  store: RateLimitStoreOptions,
  fallbackMs: number,
) {
  const windowKey = `${fullKey}.window`;
  const windowMs = readDurationMs(block, 'window', {
    fullKey: windowKey,
    fallbackMs,
    maxMs: Number.MAX_SAFE_INTEGER,
  });
  if (store.type === 'memory' && windowMs > MAX_TIMER_DELAY_MS) {
    throw new HttpRouterConfigError(
      windowKey,
      `expected at most ${MAX_TIMER_DELAY_MS} ms (about 24 days) with the memory store, got ${windowMs} ms`,
    );
  }
  return windowMs;
}

/**
 * Reads a `store` block. A key its type does not have is an error rather than a warning: it would be ignored. A
 * server that cannot be reached is not checked here: that is an outage, which the store rides out.
 */
function readStore(block: Config, fullKey: string): RateLimitStoreOptions | undefined {
  const storeKey = `${fullKey}.store`;
  const store = readObject(block, 'store', fullKey);
  if (!store) return undefined;
  const what = "one of 'memory', 'redis'";
  let type: string | undefined;
  try {
    type = store.getOptionalString('type');
  } catch (error) {
    throw expectedError(store, 'type', storeKey, what, error);
  }
  if (type !== 'memory' && type !== 'redis') {
    throw expectedError(store, 'type', storeKey, what);
  }
  const unknown = unknownKeys(store, storeKey, STORE_KEYS[type]);
  if (unknown.length > 0) {
    throw new HttpRouterConfigError(storeKey, unknown.join('; '));
  }
  if (type === 'memory') return { type };
  const connection = readRedisConnection(store, storeKey);
  try {
    parseRedisConnection(connection);
  } catch (error) {
    throw new HttpRouterConfigError(`${storeKey}.connection`, (error as Error).message, {
      cause: error,
    });
  }
  const timeoutKey = `${storeKey}.timeout`;
  const retryKey = `${storeKey}.retryAfter`;
  const retryAfterMs = store.has('retryAfter')
    ? readDurationMs(store, 'retryAfter', { fullKey: retryKey, fallbackMs: 0 })
    : undefined;
  if (retryAfterMs !== undefined && retryAfterMs % 1000 !== 0) {
    throw new HttpRouterConfigError(
      retryKey,
      `expected a whole number of seconds such as '5s', got ${describeValue(store.getOptional('retryAfter'))}`,
    );
  }
  return {
    type,
    connection,
    // Each count waits on a setTimeout of this length, so it is held to the longest timer delay.
    timeoutMs: store.has('timeout')
      ? readDurationMs(store, 'timeout', { fullKey: timeoutKey, fallbackMs: 0 })
      : undefined,
    retryAfterSeconds: retryAfterMs === undefined ? undefined : retryAfterMs / 1000,
  };
}

/** One URL, or cluster nodes as a list or (as upstream's schema declares a string) separated by commas. */
function readRedisConnection(store: Config, storeKey: string): string | string[] {
  const raw = store.getOptional('connection');
  const fail = (cause?: unknown) =>
    expectedError(store, 'connection', storeKey, REDIS_CONNECTION_EXPECTED, cause);
  let nodes: string[];
  if (Array.isArray(raw)) {
    try {
      nodes = store.getStringArray('connection');
    } catch (error) {
      throw fail(error);
    }
  } else if (typeof raw === 'string' && raw.trim() !== '') {
    if (!raw.includes(',')) return raw;
    nodes = raw.split(',').map(node => node.trim());
  } else {
    throw fail();
  }
  if (nodes.length === 0 || nodes.some(node => node.trim() === '')) throw fail();
  return nodes;
}

/**
 * Warns about each key of `block` that is not in `known`, with the closest known key; a limiter block also
 * accepts the misspelled skip flag, which is read but never suggested.
 */
function unknownKeys(
  block: Config,
  fullKey: string,
  known: readonly string[],
  limiterBlock = false,
): string[] {
  return block
    .keys()
    .filter(
      key => !known.includes(key) && !(limiterBlock && key === MISSPELLED_SKIP_SUCCESSFUL_KEY),
    )
    .map(key => {
      const closest = findClosestKey(key, known);
      const hint = closest ? `; did you mean '${fullKey}.${closest}'?` : '';
      return `Unknown config key '${fullKey}.${key}' is ignored${hint}`;
    });
}

function trustProxyWarnings(config: Config): string[] {
  if (config.getOptional(TRUST_PROXY_CONFIG_KEY) !== true) return [];
  return [
    `'${TRUST_PROXY_CONFIG_KEY}' is true while rate limiting is on: express then takes the client address from ` +
      'the left-most X-Forwarded-For entry, which the client writes itself, so any client can escape its limit ' +
      "or spend another client's. Set it to the number of proxies in front of the backend (for example 1) or " +
      'to their addresses or CIDR ranges (for example ["10.0.0.0/8"]).',
  ];
}

/**
 * The known key nearest to an unknown one, or none when more edits away than a third of the longer name (at
 * least 2), so that an unrelated key gets no misleading hint. Ties go to the key listed first.
 */
export function findClosestKey(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(unknown, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = best && Math.max(2, Math.floor(Math.max(unknown.length, best.length) / 3));
  return best !== undefined && bestDistance <= (allowed as number) ? best : undefined;
}

/** Single-character insertions, deletions and substitutions that turn `a` into `b`, ignoring case. */
function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i++) {
    const current = [i];
    for (let j = 1; j <= right.length; j++) {
      const substitution = previous[j - 1] + (left[i - 1] === right[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[right.length];
}
