import { ConfigReader } from '@backstage/config';
import type { JsonObject, JsonValue } from '@backstage/types';
import { ERROR_CODES, HttpRouterConfigError } from '../../errors';
import { DEFAULT_RATE_LIMIT_OPTIONS, readRateLimitOptions } from '../../rateLimit/config';
import type { RateLimitOptions } from '../../rateLimit/types';

function read(rateLimit: unknown, backend: JsonObject = {}) {
  const data = rateLimit === undefined ? { backend } : { backend: { ...backend, rateLimit } };
  return readRateLimitOptions(new ConfigReader(data as JsonObject));
}

function readError(rateLimit: unknown, backend: JsonObject = {}): HttpRouterConfigError {
  try {
    read(rateLimit, backend);
  } catch (error) {
    return error as HttpRouterConfigError;
  }
  throw new Error('expected readRateLimitOptions to throw');
}

function withDefaults(options: Partial<RateLimitOptions>): RateLimitOptions {
  return { ...DEFAULT_RATE_LIMIT_OPTIONS, ...options };
}

describe('readRateLimitOptions', () => {
  it('has defaults a busy Backstage UI stays under', () => {
    expect(DEFAULT_RATE_LIMIT_OPTIONS).toEqual({
      windowMs: 60_000,
      limit: 1000,
      ipAllowList: ['127.0.0.1', '::1'],
      skipSuccessfulRequests: false,
      skipFailedRequests: false,
      passOnStoreError: true,
      store: { type: 'memory' },
    });
  });

  it.each<[string, unknown, RateLimitOptions | undefined]>([
    ['absent: off', undefined, undefined],
    ['false: off', false, undefined],
    ['true: defaults', true, DEFAULT_RATE_LIMIT_OPTIONS],
    ["'true' from an environment variable: defaults", 'true', DEFAULT_RATE_LIMIT_OPTIONS],
    ["'false' from an environment variable: off", 'false', undefined],
    ['an empty block: defaults', {}, DEFAULT_RATE_LIMIT_OPTIONS],
    ['global: true', { global: true }, DEFAULT_RATE_LIMIT_OPTIONS],
    ['global: false', { global: false }, undefined],
    ['a duration string', { window: '30s' }, withDefaults({ windowMs: 30_000 })],
    ['an ISO duration', { window: 'PT2M' }, withDefaults({ windowMs: 120_000 })],
    ['a duration object', { window: { minutes: 5 } }, withDefaults({ windowMs: 300_000 })],
    ['a limit', { incomingRequestLimit: 300 }, withDefaults({ limit: 300 })],
    ['a limit as a string', { incomingRequestLimit: '50' }, withDefaults({ limit: 50 })],
    [
      'a WebSocket connection limit',
      { webSocketConnectionLimit: 3 },
      withDefaults({ webSocketConnectionLimit: 3 }),
    ],
    ['an empty allow list', { ipAllowList: [] }, withDefaults({ ipAllowList: [] })],
    [
      'an allow list of addresses and ranges',
      { ipAllowList: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::ffff:127.0.0.1'] },
      withDefaults({
        ipAllowList: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::ffff:127.0.0.1'],
      }),
    ],
    [
      'the skip flags',
      { skipSuccessfulRequests: true, skipFailedRequests: true },
      withDefaults({ skipSuccessfulRequests: true, skipFailedRequests: true }),
    ],
    ['passOnStoreError', { passOnStoreError: false }, withDefaults({ passOnStoreError: false })],
    ['a memory store', { store: { type: 'memory' } }, DEFAULT_RATE_LIMIT_OPTIONS],
    [
      'a Redis store',
      { store: { type: 'redis', connection: 'redis://127.0.0.1:6379' } },
      withDefaults({ store: { type: 'redis', connection: 'redis://127.0.0.1:6379' } }),
    ],
    [
      'a Redis cluster',
      { store: { type: 'redis', connection: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'] } },
      withDefaults({
        store: { type: 'redis', connection: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'] },
      }),
    ],
    [
      'a Redis cluster in one comma-separated string',
      { store: { type: 'redis', connection: 'redis://10.0.0.1:6379, redis://10.0.0.2:6379' } },
      withDefaults({
        store: { type: 'redis', connection: ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379'] },
      }),
    ],
    [
      'a Redis timeout and Retry-After',
      {
        store: {
          type: 'redis',
          connection: 'redis://127.0.0.1:6379',
          timeout: '250ms',
          retryAfter: { seconds: 10 },
        },
      },
      withDefaults({
        store: {
          type: 'redis',
          connection: 'redis://127.0.0.1:6379',
          timeoutMs: 250,
          retryAfterSeconds: 10,
        },
      }),
    ],
    [
      'a long window with Redis',
      { window: { days: 30 }, store: { type: 'redis', connection: 'redis://127.0.0.1:6379' } },
      withDefaults({
        windowMs: 30 * 24 * 3600 * 1000,
        store: { type: 'redis', connection: 'redis://127.0.0.1:6379' },
      }),
    ],
  ])('reads the all-plugins limiter: %s', (_name, rateLimit, expected) => {
    const settings = read(rateLimit);
    expect(settings.global).toEqual(expected);
    expect(settings.plugins).toEqual({});
    expect(settings.warnings).toEqual([]);
  });

  it.each<[string, JsonObject, Record<string, RateLimitOptions>]>([
    [
      'an empty plugin block takes everything from the top-level block',
      { window: '10s', incomingRequestLimit: 20, ipAllowList: [], plugin: { catalog: {} } },
      { catalog: withDefaults({ windowMs: 10_000, limit: 20, ipAllowList: [] }) },
    ],
    [
      'dryRun is inherited by plugin blocks and turned off by one',
      { dryRun: true, plugin: { catalog: {}, search: { dryRun: false } } },
      { catalog: withDefaults({ dryRun: true }), search: withDefaults({}) },
    ],
    [
      'a plugin block overrides only what it sets',
      {
        window: '10s',
        incomingRequestLimit: 20,
        skipFailedRequests: true,
        plugin: { catalog: { incomingRequestLimit: 5 }, search: { window: '1m' } },
      },
      {
        catalog: withDefaults({ windowMs: 10_000, limit: 5, skipFailedRequests: true }),
        search: withDefaults({ windowMs: 60_000, limit: 20, skipFailedRequests: true }),
      },
    ],
    [
      'a plugin block inherits even when global is false',
      {
        global: false,
        passOnStoreError: false,
        plugin: { catalog: { ipAllowList: ['10.0.0.0/8'] } },
      },
      { catalog: withDefaults({ passOnStoreError: false, ipAllowList: ['10.0.0.0/8'] }) },
    ],
    [
      'a plugin block inherits and overrides the store',
      {
        store: { type: 'redis', connection: 'redis://127.0.0.1:6379' },
        plugin: { catalog: {}, search: { store: { type: 'memory' } } },
      },
      {
        catalog: withDefaults({ store: { type: 'redis', connection: 'redis://127.0.0.1:6379' } }),
        search: DEFAULT_RATE_LIMIT_OPTIONS,
      },
    ],
    [
      'a plugin block inherits the WebSocket connection limit and may set its own',
      {
        webSocketConnectionLimit: 4,
        plugin: { catalog: {}, signals: { webSocketConnectionLimit: 2 } },
      },
      {
        catalog: withDefaults({ webSocketConnectionLimit: 4 }),
        signals: withDefaults({ webSocketConnectionLimit: 2 }),
      },
    ],
    [
      'a plugin block may use the misspelled skip flag',
      { skipSuccessfulRequests: false, plugin: { catalog: { skipSuccesfulRequests: true } } },
      { catalog: withDefaults({ skipSuccessfulRequests: true }) },
    ],
  ])('reads plugin blocks: %s', (_name, rateLimit, expected) => {
    expect(read(rateLimit).plugins).toEqual(expected);
  });

  it('reads the misspelled skip flag as skipSuccessfulRequests', () => {
    expect(read({ skipSuccesfulRequests: true }).global).toEqual(
      withDefaults({ skipSuccessfulRequests: true }),
    );
  });

  it('keeps the all-plugins limiter next to plugin blocks unless global is false', () => {
    expect(read({ plugin: { catalog: {} } }).global).toEqual(DEFAULT_RATE_LIMIT_OPTIONS);
    expect(read({ global: false, plugin: { catalog: {} } }).global).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['a number', 5, 'backend.rateLimit'],
    ['a word', 'yes', 'backend.rateLimit'],
    ['a list', ['global'], 'backend.rateLimit'],
    ['global not a boolean', { global: 'sometimes' }, 'backend.rateLimit.global'],
    ['dryRun not a boolean', { dryRun: 'sometimes' }, 'backend.rateLimit.dryRun'],
    ['an empty key secret', { keySecret: '' }, 'backend.rateLimit.keySecret'],
    ['a key secret that is a list', { keySecret: ['s'] }, 'backend.rateLimit.keySecret'],
    ['an unreadable window', { window: 'soon' }, 'backend.rateLimit.window'],
    ['a window in bare milliseconds', { window: 60000 }, 'backend.rateLimit.window'],
    ['a zero window', { window: '0s' }, 'backend.rateLimit.window'],
    ['an empty duration object', { window: {} }, 'backend.rateLimit.window'],
    [
      'a window too long for the memory store',
      { window: { days: 30 } },
      'backend.rateLimit.window',
    ],
    [
      'a window with Redis too long for whole milliseconds',
      {
        window: { years: 1_000_000 },
        store: { type: 'redis', connection: 'redis://127.0.0.1:6379' },
      },
      'backend.rateLimit.window',
    ],
    [
      'a limit that is a word',
      { incomingRequestLimit: 'many' },
      'backend.rateLimit.incomingRequestLimit',
    ],
    ['a zero limit', { incomingRequestLimit: 0 }, 'backend.rateLimit.incomingRequestLimit'],
    ['a negative limit', { incomingRequestLimit: -1 }, 'backend.rateLimit.incomingRequestLimit'],
    ['a fractional limit', { incomingRequestLimit: 1.5 }, 'backend.rateLimit.incomingRequestLimit'],
    [
      'a zero WebSocket connection limit',
      { webSocketConnectionLimit: 0 },
      'backend.rateLimit.webSocketConnectionLimit',
    ],
    [
      'a WebSocket connection limit that is a word',
      { plugin: { signals: { webSocketConnectionLimit: 'few' } } },
      'backend.rateLimit.plugin.signals.webSocketConnectionLimit',
    ],
    [
      'an allow list that is a string',
      { ipAllowList: '127.0.0.1' },
      'backend.rateLimit.ipAllowList',
    ],
    ['an allow list of numbers', { ipAllowList: [1] }, 'backend.rateLimit.ipAllowList'],
    [
      'a host name in the allow list',
      { ipAllowList: ['::1', 'localhost'] },
      'backend.rateLimit.ipAllowList[1]',
    ],
    [
      'an IPv4 prefix over 32',
      { ipAllowList: ['10.0.0.0/33'] },
      'backend.rateLimit.ipAllowList[0]',
    ],
    ['an IPv6 prefix over 128', { ipAllowList: ['::/129'] }, 'backend.rateLimit.ipAllowList[0]'],
    [
      'an address with a port',
      { ipAllowList: ['10.0.0.1:80'] },
      'backend.rateLimit.ipAllowList[0]',
    ],
    [
      'a skip flag that is a word',
      { skipFailedRequests: 'sometimes' },
      'backend.rateLimit.skipFailedRequests',
    ],
    [
      'the misspelled skip flag as a word',
      { skipSuccesfulRequests: 'sometimes' },
      'backend.rateLimit.skipSuccesfulRequests',
    ],
    [
      'both spellings of the skip flag',
      { skipSuccessfulRequests: true, skipSuccesfulRequests: true },
      'backend.rateLimit.skipSuccesfulRequests',
    ],
    [
      'passOnStoreError that is a word',
      { passOnStoreError: 'maybe' },
      'backend.rateLimit.passOnStoreError',
    ],
    ['a store that is a string', { store: 'memory' }, 'backend.rateLimit.store'],
    ['a store without a type', { store: {} }, 'backend.rateLimit.store.type'],
    ['an unknown store type', { store: { type: 'mongo' } }, 'backend.rateLimit.store.type'],
    ['a store type that is not a string', { store: { type: 1 } }, 'backend.rateLimit.store.type'],
    [
      'a Redis store without connection',
      { store: { type: 'redis' } },
      'backend.rateLimit.store.connection',
    ],
    [
      'a Redis store with an empty connection',
      { store: { type: 'redis', connection: '' } },
      'backend.rateLimit.store.connection',
    ],
    [
      'a Redis cluster with no nodes',
      { store: { type: 'redis', connection: [] } },
      'backend.rateLimit.store.connection',
    ],
    [
      'a Redis cluster string with an empty node',
      { store: { type: 'redis', connection: 'redis://10.0.0.1:6379,' } },
      'backend.rateLimit.store.connection',
    ],
    [
      'a Redis URL with another scheme',
      { store: { type: 'redis', connection: 'http://127.0.0.1:6379' } },
      'backend.rateLimit.store.connection',
    ],
    [
      'a Redis URL that is not a URL',
      { store: { type: 'redis', connection: 'localhost port 6379' } },
      'backend.rateLimit.store.connection',
    ],
    [
      'an unreadable Redis timeout',
      { store: { type: 'redis', connection: 'redis://127.0.0.1:6379', timeout: 'soon' } },
      'backend.rateLimit.store.timeout',
    ],
    [
      'a Retry-After that is not whole seconds',
      { store: { type: 'redis', connection: 'redis://127.0.0.1:6379', retryAfter: '1500ms' } },
      'backend.rateLimit.store.retryAfter',
    ],
    [
      'a Redis timeout longer than a timer can wait',
      { store: { type: 'redis', connection: 'redis://127.0.0.1:6379', timeout: '30d' } },
      'backend.rateLimit.store.timeout',
    ],
    [
      'a Redis timeout one millisecond past the longest timer delay',
      {
        store: {
          type: 'redis',
          connection: 'redis://127.0.0.1:6379',
          timeout: { milliseconds: 2 ** 31 },
        },
      },
      'backend.rateLimit.store.timeout',
    ],
    [
      'a Retry-After longer than a timer can wait',
      { store: { type: 'redis', connection: 'redis://127.0.0.1:6379', retryAfter: '30d' } },
      'backend.rateLimit.store.retryAfter',
    ],
    [
      'a memory store with a connection',
      { store: { type: 'memory', connection: 'redis://127.0.0.1:6379' } },
      'backend.rateLimit.store',
    ],
    [
      'the misspelled skip flag inside the store, where no spelling of it belongs',
      { store: { type: 'memory', skipSuccesfulRequests: true } },
      'backend.rateLimit.store',
    ],
    ['plugin that is not an object', { plugin: true }, 'backend.rateLimit.plugin'],
    [
      'a plugin block that is not an object',
      { plugin: { catalog: true } },
      'backend.rateLimit.plugin.catalog',
    ],
    [
      'a bad window in a plugin block',
      { plugin: { catalog: { window: 'soon' } } },
      'backend.rateLimit.plugin.catalog.window',
    ],
    [
      'a bad limit in a plugin block',
      { plugin: { catalog: { incomingRequestLimit: 0 } } },
      'backend.rateLimit.plugin.catalog.incomingRequestLimit',
    ],
    [
      'a bad store in a plugin block',
      { plugin: { catalog: { store: { type: 'mongo' } } } },
      'backend.rateLimit.plugin.catalog.store.type',
    ],
    [
      'a Redis timeout too long for a timer in a plugin block',
      {
        plugin: {
          catalog: {
            store: { type: 'redis', connection: 'redis://127.0.0.1:6379', timeout: { days: 30 } },
          },
        },
      },
      'backend.rateLimit.plugin.catalog.store.timeout',
    ],
    [
      'a long Redis window inherited by a plugin block that counts in memory',
      {
        window: '30d',
        store: { type: 'redis', connection: 'redis://127.0.0.1:6379' },
        plugin: { catalog: { store: { type: 'memory' } } },
      },
      'backend.rateLimit.plugin.catalog.window',
    ],
    [
      'both spellings of the skip flag in a plugin block',
      { plugin: { catalog: { skipSuccessfulRequests: true, skipSuccesfulRequests: false } } },
      'backend.rateLimit.plugin.catalog.skipSuccesfulRequests',
    ],
  ])('throws for %s', (_name, rateLimit, key) => {
    const error = readError(rateLimit);
    expect(error).toBeInstanceOf(HttpRouterConfigError);
    expect(error.code).toBe(ERROR_CODES.config);
    expect(error.key).toBe(key);
    expect(error.message).toContain(`'${key}'`);
  });

  it('names the longest timer delay when a Redis timeout is too long', () => {
    const error = readError({
      store: { type: 'redis', connection: 'redis://127.0.0.1:6379', timeout: '30d' },
    });
    expect(error.message).toBe(
      "Invalid config at 'backend.rateLimit.store.timeout': expected at most 2147483647 ms (about 24 days), " +
        'the longest a Node.js timer waits, got "30d" (2592000000 ms)',
    );
  });

  it('accepts a Redis timeout of exactly the longest timer delay', () => {
    const settings = read({
      store: {
        type: 'redis',
        connection: 'redis://127.0.0.1:6379',
        timeout: { milliseconds: 2 ** 31 - 1 },
      },
    });
    expect(settings.global?.store).toEqual({
      type: 'redis',
      connection: 'redis://127.0.0.1:6379',
      timeoutMs: 2 ** 31 - 1,
    });
  });

  it('reads the same config the same way every time, into settings that cannot be changed', () => {
    const rateLimit = {
      incomingRequestLimits: 10,
      plugin: { catalog: { incomingRequestLimit: 5 } },
    };
    const first = read(rateLimit, { trustProxy: true });
    const second = read(rateLimit, { trustProxy: true });

    expect(second).toEqual(first);
    expect(first.warnings).toHaveLength(2);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.global)).toBe(true);
    expect(Object.isFrozen(first.plugins)).toBe(true);
    expect(Object.isFrozen(first.plugins.catalog)).toBe(true);
    expect(Object.isFrozen(first.warnings)).toBe(true);
  });

  it.each([
    'http://:hunter2@10.0.0.1:6379',
    'redis://:hunter2@10.0.0.1:6379,',
    'redis://:hunter2@10.0.0.1:6379, rediss://:hunter2@10.0.0.2:6379',
  ])('keeps the password of the Redis connection %s out of its error', connection => {
    const error = readError({ store: { type: 'redis', connection } });
    expect(error.key).toBe('backend.rateLimit.store.connection');
    expect(error.message).not.toContain('hunter2');
  });

  it('names the value it got and what it expects', () => {
    const error = readError({ store: { type: 'mongo' } });
    expect(error.message).toContain('"mongo"');
    expect(error.message).toContain("'memory', 'redis'");
  });

  it.each<[string, unknown, JsonObject, string[]]>([
    [
      'an unknown top-level key, with the closest known key',
      { incomingRequestLimits: 10 },
      {},
      [
        "Unknown config key 'backend.rateLimit.incomingRequestLimits' is ignored; did you mean 'backend.rateLimit.incomingRequestLimit'?",
      ],
    ],
    [
      'an unknown plugin-block key',
      { plugin: { catalog: { windw: '1m' } } },
      {},
      [
        "Unknown config key 'backend.rateLimit.plugin.catalog.windw' is ignored; did you mean 'backend.rateLimit.plugin.catalog.window'?",
      ],
    ],
    [
      'global in a plugin block, which only the top-level block has',
      { plugin: { catalog: { global: false } } },
      {},
      [expect.stringContaining("'backend.rateLimit.plugin.catalog.global' is ignored")],
    ],
    [
      'the misspelled skip flag',
      { skipSuccesfulRequests: true },
      {},
      [
        "Config key 'backend.rateLimit.skipSuccesfulRequests' is a deprecated misspelling; rename it to 'backend.rateLimit.skipSuccessfulRequests'",
      ],
    ],
    [
      'trustProxy true with rate limiting',
      true,
      { trustProxy: true },
      [expect.stringMatching(/^'backend.trustProxy' is true .*X-Forwarded-For.*number of proxies/)],
    ],
    [
      'trustProxy true with only a plugin limiter',
      { global: false, plugin: { catalog: {} } },
      { trustProxy: true },
      [expect.stringContaining("'backend.trustProxy' is true")],
    ],
    ['trustProxy true without rate limiting', undefined, { trustProxy: true }, []],
    ['trustProxy true with no limiter at all', { global: false }, { trustProxy: true }, []],
    ['trustProxy as a hop count', true, { trustProxy: 1 }, []],
    ['trustProxy as a CIDR list', true, { trustProxy: ['10.0.0.0/8'] }, []],
  ])('warns about %s', (_name, rateLimit, backend, warnings) => {
    expect(read(rateLimit, backend).warnings).toEqual(warnings);
  });
});

describe('readRateLimitOptions: route rules', () => {
  const plugin = (routes: JsonValue | undefined, block: JsonObject = {}): JsonObject => ({
    plugin: { scaffolder: { ...block, routes } },
  });

  it('reads a rule over its plugin block: name, upper-case methods, and what it leaves out inherited', () => {
    const { scaffolder } = read({
      window: '10s',
      userRequestLimit: 600,
      failedAuthenticationLimit: 5,
      webSocketConnectionLimit: 3,
      ...plugin(
        [
          { name: 'task-creation', path: '/v2/tasks', method: 'post', userRequestLimit: 10 },
          {
            path: '/entities/:kind',
            method: ['get', 'HEAD'],
            window: '1m',
            incomingRequestLimit: 7,
          },
        ],
        { incomingRequestLimit: 50 },
      ),
    }).plugins;
    expect(scaffolder.routes).toEqual([
      {
        name: 'task-creation',
        path: '/v2/tasks',
        methods: ['POST'],
        options: withDefaults({ windowMs: 10_000, limit: 50, principals: { user: 10 } }),
      },
      {
        name: 'route-1',
        path: '/entities/:kind',
        methods: ['GET', 'HEAD'],
        options: withDefaults({ windowMs: 60_000, limit: 7, principals: { user: 600 } }),
      },
    ]);
    expect(Object.isFrozen(scaffolder.routes![0].options)).toBe(true);
  });

  it('leaves routes out of a plugin block without them', () => {
    expect(read(plugin(undefined)).plugins.scaffolder).not.toHaveProperty('routes');
  });

  it.each<[string, JsonObject, string]>([
    ['routes at the top level', { routes: [] }, 'backend.rateLimit.routes'],
    [
      'routes that are not a list',
      plugin({ path: '/x' }),
      'backend.rateLimit.plugin.scaffolder.routes',
    ],
    [
      'a rule without a path',
      plugin([{ incomingRequestLimit: 1 }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].path',
    ],
    [
      'a rule whose path neither router syntax reads',
      plugin([
        { path: '/v2/tasks', incomingRequestLimit: 1 },
        { path: '/tasks/{:id', incomingRequestLimit: 1 },
      ]),
      'backend.rateLimit.plugin.scaffolder.routes[1].path',
    ],
    [
      'a rule whose path does not start with a slash',
      plugin([{ path: 'v2/tasks', incomingRequestLimit: 1 }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].path',
    ],
    [
      'an unknown method',
      plugin([{ path: '/x', method: 'FETCH', incomingRequestLimit: 1 }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].method',
    ],
    [
      'an empty method list',
      plugin([{ path: '/x', method: [], incomingRequestLimit: 1 }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].method',
    ],
    [
      'a rule without any limit',
      plugin([{ path: '/x', window: '1m' }]),
      'backend.rateLimit.plugin.scaffolder.routes[0]',
    ],
    [
      'duplicate names',
      plugin([
        { name: 'tasks', path: '/x', incomingRequestLimit: 1 },
        { name: 'tasks', path: '/y', incomingRequestLimit: 1 },
      ]),
      'backend.rateLimit.plugin.scaffolder.routes[1].name',
    ],
    [
      'a name that repeats a default name',
      plugin([
        { path: '/x', incomingRequestLimit: 1 },
        { name: 'route-0', path: '/y', incomingRequestLimit: 1 },
      ]),
      'backend.rateLimit.plugin.scaffolder.routes[1].name',
    ],
    [
      'a name with a space',
      plugin([{ name: 'task creation', path: '/x', incomingRequestLimit: 1 }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].name',
    ],
    [
      'a name that a per-principal budget of the plugin has',
      plugin([{ name: 'user', path: '/x', incomingRequestLimit: 1 }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].name',
    ],
    [
      'a key a rule does not take',
      plugin([{ path: '/x', incomingRequestLimit: 1, store: { type: 'memory' } }]),
      'backend.rateLimit.plugin.scaffolder.routes[0]',
    ],
    [
      'a zero limit in a rule',
      plugin([{ path: '/x', userRequestLimit: 0 }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].userRequestLimit',
    ],
    [
      'an unreadable window in a rule',
      plugin([{ path: '/x', incomingRequestLimit: 1, window: 'soon' }]),
      'backend.rateLimit.plugin.scaffolder.routes[0].window',
    ],
  ])('refuses %s, naming the key', (_name, rateLimit, key) => {
    const error = readError(rateLimit);
    expect(error).toBeInstanceOf(HttpRouterConfigError);
    expect(error.code).toBe(ERROR_CODES.config);
    expect(error.key).toBe(key);
  });
});
