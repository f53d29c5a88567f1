import { type Config, ConfigReader } from '@backstage/config';
import { METHODS } from 'node:http';
import { isIP } from 'node:net';
import { compilePolicyPath } from '../authPolicy/paths';
import { HttpRouterConfigError, describeValue } from '../errors';
import { MAX_TIMER_DELAY_MS, readDurationMs } from '../readDurationMs';
import { parseRedisConnection } from '../redis/connection';
import type { RateLimitOptions, RateLimitRouteRule, RateLimitSettings } from './types';
import type { RateLimitStoreOptions } from './types';

export const RATE_LIMIT_CONFIG_KEY = 'backend.rateLimit';
export const TRUST_PROXY_CONFIG_KEY = 'backend.trustProxy';

/** What `true` and each key left out read as: a busy user with several tabs stays well under this. */
export const DEFAULT_RATE_LIMIT_OPTIONS: Readonly<RateLimitOptions> = Object.freeze({
  windowMs: 60_000,
  limit: 1000,
  ipAllowList: Object.freeze(['127.0.0.1', '::1']),
  skipSuccessfulRequests: false,
  skipFailedRequests: false,
  passOnStoreError: true,
  store: Object.freeze({ type: 'memory' as const }),
});

/** The spelling of `skipSuccessfulRequests` in upstream's documentation, read with a warning. */
const MISSPELLED_SKIP = 'skipSuccesfulRequests';
const ROUTE_LIMIT_KEYS = ['incomingRequestLimit', 'userRequestLimit', 'serviceRequestLimit'];
/** The keys of each block; a limiter block also reads {@link MISSPELLED_SKIP}, which is never suggested. */
const KEYS = {
  limiter: [
    ...['window', ...ROUTE_LIMIT_KEYS, 'failedAuthenticationLimit', 'webSocketConnectionLimit'],
    ...['ipAllowList', 'skipSuccessfulRequests', 'skipFailedRequests', 'passOnStoreError', 'store'],
    'dryRun',
  ],
  route: ['name', 'path', 'method', 'window', 'dryRun', ...ROUTE_LIMIT_KEYS],
};
/** The keys of a `store` block, by its type. */
const STORE_KEYS = { memory: ['type'], redis: ['type', 'connection', 'timeout', 'retryAfter'] };
/** A rule named as a budget kind would share its plugin's budget names (`plugin-<pluginId>-user`). */
const BUDGET_KINDS = ['user', 'service', 'address', 'failed-authentication'];
const ROUTE_NAME = /^[A-Za-z0-9][\w.-]*$/;
/** What a key accepts, as error messages say it. */
const EXPECTED = {
  rateLimit: 'true (rate limiting with defaults) or an object of rate limit settings',
  plugin: 'an object of rate limit settings',
  flag: 'true or false',
  count: 'a positive whole number of requests',
  budget: "a positive whole number of requests, or 'unlimited'",
  webSockets: 'a positive whole number of open WebSockets',
  ips: 'a list of IP addresses and CIDR ranges',
  ip: "an IP address such as '10.0.0.1' or '::1', or a CIDR range such as '10.0.0.0/8' or '2001:db8::/32'",
  storeType: "one of 'memory', 'redis'",
  routes: 'a list of rules { path, method?, limits }',
  name: `letters, digits, - _ . (not first), unique in the plugin, none of ${BUDGET_KINDS.join(', ')}`,
  path: "a path in the syntax of auth policy paths, such as '/v2/tasks' or '/entities/:kind'",
};
const TRUST_PROXY_WARNING =
  `'${TRUST_PROXY_CONFIG_KEY}' is true while rate limiting is on: express then takes the client address from the ` +
  'left-most X-Forwarded-For entry, which the client writes itself, so any client can escape its limit or spend ' +
  "another client's. Set it to the number of proxies in front of the backend (for example 1) or to their " +
  'addresses or CIDR ranges (for example ["10.0.0.0/8"]).';

/**
 * Reads `backend.rateLimit` (and `backend.trustProxy`, for a warning) into frozen options, one set per limiter.
 * Never logs: problems that need not stop the backend come back as `warnings`; a value it cannot use throws.
 */
export function readRateLimitOptions(config: Config): RateLimitSettings {
  const at = RATE_LIMIT_CONFIG_KEY;
  const raw = config.getOptional(at);
  const off = raw === undefined || raw === false || raw === 'false';
  const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
  if (!off && !isObject && raw !== true && raw !== 'true') {
    const got = describeValue(raw);
    throw new HttpRouterConfigError(at, `expected ${EXPECTED.rateLimit}, got ${got}`);
  }
  // `true` reads as an empty block, and off as a block without any limiter.
  const block = isObject ? config.getConfig(at) : new ConfigReader({ global: !off });
  if (block.has('routes')) {
    const expected = `expected route rules in a plugin block, at '${at}.plugin.<pluginId>.routes'`;
    throw new HttpRouterConfigError(`${at}.routes`, expected);
  }
  const warnings = unknownKeys(block, at, [...KEYS.limiter, 'global', 'plugin', 'keySecret'], true);
  const topLevel = readLimiter(block, at, DEFAULT_RATE_LIMIT_OPTIONS, warnings);
  const isGlobal = read(block, 'getOptionalBoolean', 'global', at, EXPECTED.flag) !== false;
  const plugins: Record<string, RateLimitOptions> = {};
  const pluginBlocks = read(block, 'getOptionalConfig', 'plugin', at, 'an object');
  for (const pluginId of pluginBlocks?.keys() ?? []) {
    const pluginAt = `${at}.plugin.${pluginId}`;
    const pluginBlock = read(pluginBlocks!, 'getConfig', pluginId, `${at}.plugin`, EXPECTED.plugin);
    warnings.push(...unknownKeys(pluginBlock, pluginAt, [...KEYS.limiter, 'routes'], true));
    const options = readLimiter(pluginBlock, pluginAt, topLevel, warnings);
    const routes = readRoutes(pluginBlock, pluginAt, options, warnings);
    plugins[pluginId] = routes ? Object.freeze({ ...options, routes }) : options;
  }
  const limited = isGlobal || Object.keys(plugins).length > 0;
  if (limited && config.getOptional(TRUST_PROXY_CONFIG_KEY) === true) {
    warnings.push(TRUST_PROXY_WARNING);
  }
  const keySecret = block.getOptional('keySecret');
  if (keySecret !== undefined && (typeof keySecret !== 'string' || keySecret === '')) {
    // Without the value: it is a secret.
    throw new HttpRouterConfigError(`${at}.keySecret`, 'expected a non-empty string');
  }
  const global = isGlobal ? topLevel : undefined;
  const frozen = { plugins: Object.freeze(plugins), warnings: Object.freeze(warnings) };
  return Object.freeze({ global, ...frozen, ...defined({ keySecret }) });
}

/** Reads the keys of a top-level, plugin or route block, taking each one it leaves out from `parent`. */
function readLimiter(block: Config, at: string, parent: RateLimitOptions, warnings: string[]) {
  const flag = (key: string) => read(block, 'getOptionalBoolean', key, at, EXPECTED.flag);
  const count = (key: string, expected = EXPECTED.count) =>
    read(block, 'getOptionalNumber', key, at, expected, n => Number.isInteger(n) && n >= 1);
  const principal = (key: string) =>
    block.getOptional(key) === 'unlimited' ? ('unlimited' as const) : count(key, EXPECTED.budget);
  // The store comes first: the longest window accepted depends on it.
  const store = readStore(block, at) ?? parent.store;
  // Past 2^53 ms Redis refuses every expiry; only the memory store waits on a timer of the window's length.
  const window = { fullKey: `${at}.window`, fallbackMs: parent.windowMs, maxMs: 2 ** 53 - 1 };
  const windowMs = readDurationMs(block, 'window', window);
  if (store.type === 'memory' && windowMs > MAX_TIMER_DELAY_MS) {
    const expected = `expected at most ${MAX_TIMER_DELAY_MS} ms (about 24 days) with the memory store`;
    throw new HttpRouterConfigError(window.fullKey, `${expected}, got ${windowMs} ms`);
  }
  const limit = count('incomingRequestLimit') ?? parent.limit;
  const ipAllowList = read(block, 'getOptionalStringArray', 'ipAllowList', at, EXPECTED.ips);
  const bad = ipAllowList?.findIndex(entry => !isIpAllowListEntry(entry)) ?? -1;
  if (bad >= 0) {
    const got = `expected ${EXPECTED.ip}, got ${describeValue(ipAllowList![bad])}`;
    throw new HttpRouterConfigError(`${at}.ipAllowList[${bad}]`, got);
  }
  const misspelled = block.has(MISSPELLED_SKIP);
  const [old, correct] = [`${at}.${MISSPELLED_SKIP}`, 'skipSuccessfulRequests'];
  if (misspelled && block.has(correct)) {
    const both = `set either ${correct} or its deprecated misspelling ${MISSPELLED_SKIP} (but not both)`;
    throw new HttpRouterConfigError(old, `${both}; keep ${correct}`);
  }
  const rename = `is a deprecated misspelling; rename it to '${at}.${correct}'`;
  if (misspelled) warnings.push(`Config key '${old}' ${rename}`);
  const skipSuccessful = flag(misspelled ? MISSPELLED_SKIP : correct);
  const principals = defined({
    user: principal('userRequestLimit') ?? parent.principals?.user,
    service: principal('serviceRequestLimit') ?? parent.principals?.service,
    failedAuthentication:
      count('failedAuthenticationLimit') ?? parent.principals?.failedAuthentication,
  });
  return Object.freeze(
    defined({
      windowMs,
      limit,
      ipAllowList: ipAllowList ? Object.freeze([...ipAllowList]) : parent.ipAllowList,
      skipSuccessfulRequests: skipSuccessful ?? parent.skipSuccessfulRequests,
      skipFailedRequests: flag('skipFailedRequests') ?? parent.skipFailedRequests,
      passOnStoreError: flag('passOnStoreError') ?? parent.passOnStoreError,
      store,
      // No `principals` property unless a per-principal key is set.
      principals: Object.keys(principals).length > 0 ? Object.freeze(principals) : undefined,
      webSocketConnectionLimit:
        count('webSocketConnectionLimit', EXPECTED.webSockets) ?? parent.webSocketConnectionLimit,
      dryRun: (flag('dryRun') ?? parent.dryRun) === true || undefined,
    }),
  );
}

/** Reads a plugin block's `routes`: each rule takes the keys it leaves out from the plugin's `options`. */
function readRoutes(block: Config, at: string, options: RateLimitOptions, warnings: string[]) {
  if (!block.has('routes')) return undefined;
  const rules = read(block, 'getConfigArray', 'routes', at, EXPECTED.routes);
  // The plugin's failed-authentication cut-off and WebSocket limit are its own, not each rule's.
  const { failedAuthentication: _, ...principals } = options.principals ?? {};
  const parent = { ...options, webSocketConnectionLimit: undefined, principals };
  const names = new Set<string>();
  const readRule = (rule: Config, index: number): RateLimitRouteRule => {
    const ruleAt = `${at}.routes[${index}]`;
    // Unknown keys stop the start-up: the reader of a limiter block would read some of them (such as `store`).
    const problems = unknownKeys(rule, ruleAt, KEYS.route);
    if (!ROUTE_LIMIT_KEYS.some(key => rule.has(key))) {
      problems.push(`expected at least one of ${ROUTE_LIMIT_KEYS.join(', ')}`);
    }
    if (problems.length > 0) throw new HttpRouterConfigError(ruleAt, problems.join('; '));
    const name = read(rule, 'getOptionalString', 'name', ruleAt, EXPECTED.name) ?? `route-${index}`;
    if (!ROUTE_NAME.test(name) || names.has(name) || BUDGET_KINDS.includes(name)) {
      throw expectedError(rule, 'name', ruleAt, EXPECTED.name);
    }
    names.add(name);
    let path: string;
    try {
      path = rule.getOptionalString('path') ?? '';
      if (!path) throw new TypeError('none given');
      // Request paths start with '/': a rule without one would never count anything.
      if (path !== '*' && !path.startsWith('/')) throw new TypeError("it does not start with '/'");
      compilePolicyPath(path);
    } catch (error) {
      const expected = `${EXPECTED.path} (${(error as Error).message})`;
      throw expectedError(rule, 'path', ruleAt, expected, error);
    }
    const method = rule.getOptional('method');
    const methods =
      method === undefined ? undefined : [method].flat().map(m => String(m).toUpperCase());
    if (methods?.length === 0 || methods?.some(m => !METHODS.includes(m))) {
      throw expectedError(rule, 'method', ruleAt, 'an HTTP method such as POST, or a list of them');
    }
    const ruleOptions = readLimiter(rule, ruleAt, parent, warnings);
    return Object.freeze(defined({ name, path, methods, options: ruleOptions }));
  };
  return Object.freeze(rules.map(readRule));
}

/** Reads a `store` block: a key its type lacks throws (it would be ignored); no server is contacted. */
function readStore(block: Config, at: string): RateLimitStoreOptions | undefined {
  const store = read(block, 'getOptionalConfig', 'store', at, 'an object');
  if (!store) return undefined;
  const storeAt = `${at}.store`;
  const isType = (type: string) => Object.hasOwn(STORE_KEYS, type);
  const type = read(store, 'getString', 'type', storeAt, EXPECTED.storeType, isType);
  const unknown = unknownKeys(store, storeAt, STORE_KEYS[type as keyof typeof STORE_KEYS]);
  if (unknown.length > 0) throw new HttpRouterConfigError(storeAt, unknown.join('; '));
  if (type === 'memory') return { type };
  // Upstream's schema declares a string, so cluster nodes may also come as one, separated by commas.
  const raw = store.getOptional('connection');
  const connection =
    typeof raw === 'string' && raw.includes(',') ? raw.split(',').map(url => url.trim()) : raw;
  try {
    parseRedisConnection(connection);
  } catch (error) {
    const message = (error as Error).message;
    throw new HttpRouterConfigError(`${storeAt}.connection`, message, { cause: error });
  }
  const duration = (key: string, fullKey = `${storeAt}.${key}`) =>
    store.has(key) ? readDurationMs(store, key, { fullKey, fallbackMs: 0 }) : undefined;
  const retryAfterMs = duration('retryAfter');
  if (retryAfterMs !== undefined && retryAfterMs % 1000 !== 0) {
    throw expectedError(store, 'retryAfter', storeAt, "a whole number of seconds such as '5s'");
  }
  return defined({
    type: 'redis' as const,
    connection: connection as string | string[],
    timeoutMs: duration('timeout'),
    retryAfterSeconds: retryAfterMs === undefined ? undefined : retryAfterMs / 1000,
  });
}

type Getter = keyof Config & `get${string}`;
type Reads<G extends Getter> = ReturnType<Config[G]>;

/** Reads `key` with a typed getter and checks it with `valid`; throws naming the key, the value and `expected`. */
function read<G extends Getter>(
  block: Config,
  getter: G,
  key: string,
  at: string,
  expected: string,
  valid?: (value: NonNullable<Reads<G>>) => boolean,
): Reads<G> {
  let value: Reads<G>;
  try {
    value = (block[getter] as (key: string) => Reads<G>).call(block, key);
  } catch (error) {
    throw expectedError(block, key, at, expected, error);
  }
  if (value !== undefined && valid && !valid(value as NonNullable<Reads<G>>)) {
    throw expectedError(block, key, at, expected);
  }
  return value;
}

function expectedError(block: Config, key: string, at: string, expected: string, cause?: unknown) {
  const got = describeValue(block.getOptional(key));
  return new HttpRouterConfigError(`${at}.${key}`, `expected ${expected}, got ${got}`, { cause });
}

/** The fields that are not `undefined`, so that a key never set leaves no property behind. */
function defined<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;
}

/** Whether `entry` is an IP address or a CIDR range whose prefix length fits its family. */
export function isIpAllowListEntry(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
}

/** A message per key of `block` not in `known`, with the closest; a limiter block ignores those keys. */
function unknownKeys(block: Config, at: string, known: readonly string[], limiter = false) {
  return block
    .keys()
    .filter(key => !known.includes(key) && !(limiter && key === MISSPELLED_SKIP))
    .map(key => {
      const closest = findClosestKey(key, known);
      const hint = closest ? `; did you mean '${at}.${closest}'?` : '';
      return `Unknown config key '${at}.${key}'${limiter ? ' is ignored' : ''}${hint}`;
    });
}

/**
 * The known key nearest to an unknown one (in edits, ignoring case), or none when more edits away than a third
 * of the longer name (at least 2), so that an unrelated key gets no misleading hint. Ties go to the first.
 */
export function findClosestKey(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(unknown.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  const allowed = Math.max(2, Math.floor(Math.max(unknown.length, best?.length ?? 0) / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** Single-character insertions, deletions and substitutions that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}
