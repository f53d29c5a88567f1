import {
  coreServices,
  createServiceFactory,
  createServiceRef,
  type LifecycleService,
  type LoggerService,
  type ServiceRef,
} from '@backstage/backend-plugin-api';
import type { Config } from '@backstage/config';
import { toError } from '@backstage/errors';
import type { Store } from 'express-rate-limit';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createHttpRouterMetrics, type HttpRouterMetrics } from '../metrics';
import { createRedisConnections, type RedisConnections } from '../redis/connection';
import { RATE_LIMIT_CONFIG_KEY, readRateLimitOptions } from './config';
import { type Budgets, createBudgets } from './principals';
import { type BuildLimiter, createLimiter } from './limiter';
import { createRateLimitStore, DEFAULT_REDIS_TIMEOUT_MS, rateLimitKeyPrefix } from './store';
import type { RateLimitOptions, RateLimitRedisStoreOptions, RateLimitSettings } from './types';

/** Where instances on one Redis keep the key secret they share, and how long start-up waits for it. */
const KEY_SECRET_REDIS_KEY = 'rl:key-secret';
const KEY_SECRET_TIMEOUT_MS = 2000;
/** The most budget keys whose digests are kept; all are dropped at once past it. */
const MAX_DIGESTS = 10_000;

/** What the limiters of one backend share: the settings, the Redis connections, the all-plugins budgets. */
export type RateLimitContext = ReturnType<typeof createRateLimitContext>;

/** Options for {@link createRateLimitContext}; `logger` and `lifecycle` default to none. */
export interface RateLimitContextOptions {
  config: Config;
  logger?: LoggerService;
  lifecycle?: LifecycleService;
  /** Where the all-plugins budgets count their decisions. Defaults to OpenTelemetry's global meter. */
  metrics?: HttpRouterMetrics;
  /** How long Redis must answer without a failure before an outage is logged as over. Defaults to 5 s. */
  outageSettleMs?: number;
}

/** Reads `backend.rateLimit` once, follows its changes, and sets up what the limiters share. */
export function createRateLimitContext(options: RateLimitContextOptions) {
  const { config, logger, lifecycle, outageSettleMs } = options;
  const settings = readRateLimitOptions(config);
  settings.warnings.forEach(warning => logger?.warn(warning));
  const listeners = new Set<() => void>();
  const connections = createRedisConnections({ logger, outageSettleMs });
  const redisStores = ({ global, plugins }: RateLimitSettings) =>
    [global, ...Object.values(plugins)].flatMap(o => (o?.store.type === 'redis' ? [o.store] : []));
  // The secret never changes live, so each key's digest is computed once, not per request.
  let secret: string | undefined;
  const secretRead = readKeySecret(settings, redisStores(settings)[0], connections, logger);
  void secretRead.then(read => (secret = read));
  /** The keyed digest that stands for a budget key in the store and in `RateLimit-Policy`. */
  const digestKey = (key: string) =>
    secret === undefined ? secretRead.then(read => digest(key, read)) : digest(key, secret);
  const digests = new Map<string, string>();
  const digest = (key: string, keyedWith: string) => {
    let keyed = digests.get(key);
    if (keyed === undefined) {
      if (digests.size >= MAX_DIGESTS) digests.clear();
      keyed = createHmac('sha256', keyedWith).update(key).digest('base64url').slice(0, 27);
      digests.set(key, keyed);
    }
    return keyed;
  };
  const stores = new Map<string, Store>();
  const buildLimiter: BuildLimiter = ({ lifecycle: own = lifecycle, ...limiterOptions }) => {
    const { options, pluginId, bucket, route, metrics } = limiterOptions;
    const prefix = rateLimitKeyPrefix(pluginId, bucket?.kind, route);
    const factoryOptions = { options, prefix, connections, lifecycle: own, metrics, stores };
    const store = createRateLimitStore(factoryOptions);
    return createLimiter({ ...limiterOptions, store, digestKey });
  };
  let allPlugins: { budgets: Budgets | undefined } | undefined;
  const buildAllPlugins = ({ global }: RateLimitSettings) => {
    if (!global?.principals) return undefined;
    const metrics = (options.metrics ?? createHttpRouterMetrics()).rateLimit('global');
    const shared = { name: 'all plugins', build: buildLimiter, logger, lifecycle, metrics };
    return createBudgets({ ...shared, options: global });
  };
  let verified: Promise<void> | undefined;
  const verifyRedis = async () => {
    const leases = redisStores(context.settings).map(({ connection, timeoutMs }) =>
      connections.acquire({ connection, timeoutMs: timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS }),
    );
    return connections.verify().finally(() => leases.forEach(lease => lease.release()));
  };
  const context = {
    /** Replaced when `backend.rateLimit` changes to settings that validate. */
    settings,
    logger,
    lifecycle,
    buildLimiter,
    onChange: (listener: () => void) => void listeners.add(listener),
    /** The all-plugins per-principal budgets, built on first use; none unless `global` has principals. */
    allPlugins: (): Budgets | undefined =>
      (allPlugins ??= { budgets: buildAllPlugins(context.settings) }).budgets,
    /** Rejects with an `HttpRouterConfigError` when Redis refused a configured database; checked once. */
    verifyRedis: (): Promise<void> => (verified ??= verifyRedis()),
  };
  const subscription = config.subscribe?.(() => {
    let next: RateLimitSettings;
    try {
      next = keepStores(readRateLimitOptions(config), context.settings, logger);
    } catch (error) {
      logger?.error(`Rate limit settings kept as they were: ${toError(error).message}`);
      return;
    }
    const comparable = (s: RateLimitSettings) => JSON.stringify({ ...s, warnings: 0 });
    if (comparable(next) === comparable(context.settings)) return;
    next.warnings.forEach(warning => logger?.warn(warning));
    logger?.info('Rate limit settings changed; applying them');
    context.settings = next;
    allPlugins = undefined;
    listeners.forEach(listener => listener());
  });
  lifecycle?.addShutdownHook(() => subscription?.unsubscribe());
  return context;
}

/**
 * The new settings with each limiter's store as it was: a store cannot move without losing or splitting its
 * counts, so a changed `store` or `keySecret` waits for a restart, with one warning.
 */
function keepStores(next: RateLimitSettings, previous: RateLimitSettings, logger?: LoggerService) {
  const fallback = (previous.global ?? Object.values(previous.plugins)[0])?.store;
  let moved = next.keySecret !== previous.keySecret;
  const keep = (options: RateLimitOptions, pluginId?: string): RateLimitOptions => {
    const own = pluginId === undefined ? undefined : previous.plugins[pluginId];
    const store = own?.store ?? fallback ?? options.store;
    moved ||= JSON.stringify(store) !== JSON.stringify(options.store);
    return { ...options, store };
  };
  const plugins = Object.entries(next.plugins).map(([id, options]) => [id, keep(options, id)]);
  const kept = { ...next, keySecret: previous.keySecret, global: next.global && keep(next.global) };
  const later = `${RATE_LIMIT_CONFIG_KEY}.store or .keySecret applies after a restart`;
  if (moved) logger?.warn(`A change of ${later}; the other changes apply now`);
  return { ...kept, plugins: Object.fromEntries(plugins) };
}

/**
 * The configured key secret; else, with a Redis store, the one the first instance stored there (kept while Redis
 * keeps its data, so counts survive restarts); else one of this process.
 */
async function readKeySecret(
  settings: RateLimitSettings,
  redis: RateLimitRedisStoreOptions | undefined,
  connections: RedisConnections,
  logger: LoggerService | undefined,
): Promise<string> {
  if (settings.keySecret !== undefined) return settings.keySecret;
  const generated = randomBytes(32).toString('base64url');
  if (!redis) return generated;
  const timeoutMs = redis.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
  const lease = connections.acquire({ connection: redis.connection, timeoutMs });
  const key = KEY_SECRET_REDIS_KEY;
  // AbortSignal.timeout's timer does not keep the process alive.
  const timeout = once(AbortSignal.timeout(KEY_SECRET_TIMEOUT_MS), 'abort').then(() => {
    throw new Error('Redis did not answer');
  });
  const exchange = async () => {
    await lease.firstAttempt();
    await lease.sendCommand({ key, isReadOnly: false, command: ['SET', key, generated, 'NX'] });
    return lease.sendCommand({ key, isReadOnly: true, command: ['GET', key] });
  };
  try {
    const shared = await Promise.race([exchange(), timeout]);
    if (typeof shared === 'string' && shared !== '') return shared;
    throw new Error(`Redis holds no string at ${key}`);
  } catch (error) {
    logger?.warn(
      `Rate limit budgets of this instance are keyed with a secret of its own, so they are not shared with ` +
        `other instances until it restarts, as Redis did not hand out the shared one; set ` +
        `${RATE_LIMIT_CONFIG_KEY}.keySecret to share budgets without Redis's help`,
      toError(error),
    );
    return generated;
  } finally {
    lease.release();
  }
}

/**
 * The rate-limit context that the plugin routers of one backend share: one config read, one set of connections.
 * `get()` builds it on first use, and throws its config error, if any, to every caller as a start-up failure.
 */
export const rateLimitContextServiceRef: ServiceRef<{ get(): RateLimitContext }, 'root'> =
  createServiceRef<{ get(): RateLimitContext }>({
    id: 'backstage-http-router.rate-limit-context',
    scope: 'root',
    defaultFactory: async service =>
      createServiceFactory({
        service,
        deps: {
          config: coreServices.rootConfig,
          rootLogger: coreServices.rootLogger,
          lifecycle: coreServices.rootLifecycle,
        },
        factory({ config, rootLogger, lifecycle }) {
          const logger = rootLogger.child({ service: 'httpRouter' });
          let built: { context: RateLimitContext } | { error: unknown } | undefined;
          return {
            get() {
              try {
                built ??= { context: createRateLimitContext({ config, logger, lifecycle }) };
              } catch (error) {
                built = { error };
              }
              if ('error' in built) throw built.error;
              return built.context;
            },
          };
        },
      }),
  });
