import {
  coreServices,
  createServiceFactory,
  createServiceRef,
  type LifecycleService,
  type ServiceRef,
  type LoggerService,
} from '@backstage/backend-plugin-api';
import type { Config } from '@backstage/config';
import type { Store } from 'express-rate-limit';
import { toError } from '@backstage/errors';
import { createHmac, randomBytes } from 'node:crypto';
import { createHttpRouterMetrics, type HttpRouterMetrics } from '../metrics';
import { createRedisConnections, type RedisConnections } from '../redis/connection';
import { RATE_LIMIT_CONFIG_KEY, readRateLimitOptions } from './config';
import { type Budgets, createBudgets } from './principals';
import { DEFAULT_REDIS_TIMEOUT_MS } from './store';
import type { RateLimitOptions, RateLimitSettings } from './types';

/**
 * What the limiters of one backend share: the settings read once, the Redis connections, and the all-plugins
 * per-principal budgets that every plugin router counts in.
 */
export interface RateLimitContext {
  /** The settings in force: replaced when `backend.rateLimit` changes to settings that validate. */
  settings: RateLimitSettings;
  connections: RedisConnections;
  /** The stores of the limiters, by key prefix, kept when limiters are rebuilt. */
  stores: Map<string, Store>;
  /** Calls `listener` after each change of the settings. */
  onChange(listener: () => void): void;
  /** The keyed digest that stands for a budget key in the store and in `RateLimit-Policy`. */
  digestKey(key: string): Promise<string>;
  /**
   * The all-plugins budgets that plugin routers count in, built on first use; none unless the top-level block
   * sets a per-principal key and `global` is on.
   */
  allPlugins(): Budgets | undefined;
  /**
   * Resolves once every Redis connection the config names has ended its first attempt (2 s at most), and
   * rejects with an `HttpRouterConfigError` when Redis refused the database of one, so that the start-up fails
   * rather than count in another database. Checked once; the root router's limiter has connections of its own.
   */
  verifyRedis(): Promise<void>;
  logger?: LoggerService;
  lifecycle?: LifecycleService;
}

/** Options for {@link createRateLimitContext}. */
export interface RateLimitContextOptions {
  config: Config;
  /** Receives the config warnings (once here), the start-up summaries and the Redis outages. Defaults to none. */
  logger?: LoggerService;
  /** Stops every store at shutdown. Defaults to none. */
  lifecycle?: LifecycleService;
  /** Where the all-plugins budgets count their decisions. Defaults to OpenTelemetry's global meter. */
  metrics?: HttpRouterMetrics;
  /** How long Redis must answer without a failure before an outage is logged as over. Defaults to 5 s. */
  outageSettleMs?: number;
}

/** Reads `backend.rateLimit` once and sets up what the limiters built from it share. */
export function createRateLimitContext(options: RateLimitContextOptions): RateLimitContext {
  const { config, logger, lifecycle, outageSettleMs } = options;
  let settings = readRateLimitOptions(config);
  settings.warnings.forEach(warning => logger?.warn(warning));
  const listeners = new Set<() => void>();
  const connections = createRedisConnections({ logger, outageSettleMs });
  const secret = readKeySecret(settings, connections, logger);
  let allPlugins: { budgets: Budgets | undefined } | undefined;
  const buildAllPlugins = (): Budgets | undefined => {
    const { global } = context.settings;
    if (!global?.principals) return undefined;
    logger?.info(`Rate limiting all plugins per principal: ${describeBudgets(global)}`);
    const metrics = options.metrics ?? createHttpRouterMetrics();
    return createBudgets({
      options: global,
      connections,
      logger,
      lifecycle,
      metrics: metrics.rateLimit('global'),
      digestKey,
      stores: context.stores,
    });
  };
  const digestKey = async (key: string) =>
    createHmac('sha256', await secret)
      .update(key)
      .digest('base64url')
      .slice(0, 27);
  let verified: Promise<void> | undefined;
  const verifyRedis = async () => {
    const leases = [settings.global, ...Object.values(settings.plugins)].flatMap(limiter =>
      limiter?.store.type === 'redis'
        ? [
            connections.acquire({
              connection: limiter.store.connection,
              timeoutMs: limiter.store.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
            }),
          ]
        : [],
    );
    try {
      await connections.verify();
    } finally {
      leases.forEach(lease => lease.release());
    }
  };
  const context: RateLimitContext = {
    settings,
    connections,
    stores: new Map(),
    onChange: listener => void listeners.add(listener),
    digestKey,
    logger,
    lifecycle,
    allPlugins: () => (allPlugins ??= { budgets: buildAllPlugins() }).budgets,
    verifyRedis: () => (verified ??= verifyRedis()),
  };
  const subscription = config.subscribe?.(() => {
    let next: RateLimitSettings;
    try {
      next = keepStores(readRateLimitOptions(config), context.settings, logger);
    } catch (error) {
      logger?.error(`Rate limit settings kept as they were: ${toError(error).message}`);
      return;
    }
    if (
      JSON.stringify({ ...next, warnings: 0 }) ===
      JSON.stringify({ ...context.settings, warnings: 0 })
    ) {
      return;
    }
    next.warnings.forEach(warning => logger?.warn(warning));
    logger?.info('Rate limit settings changed; applying them');
    context.settings = settings = next;
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
function keepStores(
  next: RateLimitSettings,
  previous: RateLimitSettings,
  logger: LoggerService | undefined,
): RateLimitSettings {
  const before = previous.global ?? Object.values(previous.plugins)[0];
  const old = (pluginId?: string) =>
    (pluginId === undefined ? undefined : previous.plugins[pluginId]) ?? before;
  const moved = (options: RateLimitOptions | undefined, pluginId?: string) =>
    options !== undefined &&
    old(pluginId) !== undefined &&
    JSON.stringify(options.store) !== JSON.stringify(old(pluginId)!.store);
  const changed =
    next.keySecret !== previous.keySecret ||
    moved(next.global) ||
    Object.entries(next.plugins).some(([pluginId, options]) => moved(options, pluginId));
  if (!changed) return next;
  logger?.warn(
    `A change of ${RATE_LIMIT_CONFIG_KEY}.store or .keySecret applies after a restart; the other changes apply now`,
  );
  const keep = (options: RateLimitOptions, pluginId?: string) => {
    const store = old(pluginId)?.store;
    return store ? { ...options, store } : options;
  };
  return {
    ...next,
    keySecret: previous.keySecret,
    global: next.global && keep(next.global),
    plugins: Object.fromEntries(
      Object.entries(next.plugins).map(([pluginId, options]) => [
        pluginId,
        keep(options, pluginId),
      ]),
    ),
  };
}

/** Where instances on one Redis keep the key secret they share. */
const KEY_SECRET_REDIS_KEY = 'rl:key-secret';
/** How long start-up waits for Redis to hand out the shared key secret. */
const KEY_SECRET_TIMEOUT_MS = 2000;

/**
 * The configured key secret; else, with a Redis store, the one the first instance stored there (kept while Redis
 * keeps its data, so counts survive restarts); else one of this process.
 */
async function readKeySecret(
  settings: RateLimitSettings,
  connections: RedisConnections,
  logger: LoggerService | undefined,
): Promise<string> {
  if (settings.keySecret !== undefined) return settings.keySecret;
  const generated = randomBytes(32).toString('base64url');
  const redis = [settings.global, ...Object.values(settings.plugins)].find(
    limiter => limiter?.store.type === 'redis',
  )?.store;
  if (redis?.type !== 'redis') return generated;
  const lease = connections.acquire({
    connection: redis.connection,
    timeoutMs: redis.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Redis did not answer')), KEY_SECRET_TIMEOUT_MS);
    timer.unref();
  });
  const key = KEY_SECRET_REDIS_KEY;
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
    clearTimeout(timer);
    lease.release();
  }
}

/** The start-up summary of a layer's budgets. */
export function describeBudgets(options: RateLimitOptions): string {
  const { user, service, failedAuthentication } = options.principals ?? {};
  return (
    `address ${options.limit}, user ${user ?? 'per address'}, service ${service ?? 'per address'}, ` +
    `failed authentications ${failedAuthentication ?? 'not limited'} per ${options.windowMs} ms, ` +
    `${options.store.type} store`
  );
}

/** Hands out the rate-limit context of a backend, built on first use. */
export interface RateLimitContextService {
  /** The context; throws the config error, if any, to every caller, as a plugin's start-up failure. */
  get(): RateLimitContext;
}

/** A {@link RateLimitContextService} over {@link createRateLimitContext}. */
export function createRateLimitContextService(
  options: RateLimitContextOptions,
): RateLimitContextService {
  let built: { context: RateLimitContext } | { error: unknown } | undefined;
  return {
    get() {
      if (!built) {
        try {
          built = { context: createRateLimitContext(options) };
        } catch (error) {
          built = { error };
        }
      }
      if ('error' in built) throw built.error;
      return built.context;
    },
  };
}

/** The default factory of {@link rateLimitContextServiceRef}. */
function createRateLimitContextServiceFactory() {
  return createServiceFactory({
    service: rateLimitContextServiceRef,
    deps: {
      config: coreServices.rootConfig,
      rootLogger: coreServices.rootLogger,
      lifecycle: coreServices.rootLifecycle,
    },
    factory: ({ config, rootLogger, lifecycle }) =>
      createRateLimitContextService({
        config,
        lifecycle,
        logger: rootLogger.child({ service: 'httpRouter' }),
      }),
  });
}

/**
 * The rate-limit context of a backend, shared by the plugin routers of {@link httpRouterServiceFactory}: one read
 * of the config, one set of Redis connections and all-plugins budgets.
 */
export const rateLimitContextServiceRef: ServiceRef<RateLimitContextService, 'root'> =
  createServiceRef<RateLimitContextService>({
    id: 'backstage-http-router.rate-limit-context',
    scope: 'root',
    defaultFactory: async () => createRateLimitContextServiceFactory(),
  });
