import path from 'node:path';
import { loadConfigSchema } from '@backstage/config-loader';
import type { ConfigSchema, ConfigVisibility } from '@backstage/config-loader';
import type { AppConfig } from '@backstage/config';
import type { JsonObject } from '@backstage/types';

/**
 * Our `config.d.ts` goes through the same tooling as `backstage-cli config:check` in a backend: the TypeScript
 * schema is compiled by `@backstage/config-loader`, merged with every other package's schema (upstream's
 * `@backstage/backend-defaults` declares the same `backend.*` keys), and the config is validated against the
 * merge with every visibility, as a backend sees it. Both packages are given by path so that the test does not
 * depend on the directory jest runs from.
 */
const OUR_PACKAGE_JSON = path.resolve(__dirname, '../../package.json');
const BACKEND_DEFAULTS_PACKAGE_JSON = require.resolve('@backstage/backend-defaults/package.json');

const BACKEND_VISIBILITIES: ConfigVisibility[] = ['frontend', 'backend', 'secret'];

const SCHEMA_COMPILE_TIMEOUT_MS = 120_000;

const FULL_RATE_LIMIT: JsonObject = {
  global: true,
  window: '1m',
  incomingRequestLimit: 100,
  ipAllowList: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'],
  skipSuccessfulRequests: false,
  skipFailedRequests: true,
  passOnStoreError: false,
  store: {
    type: 'redis',
    connection: 'redis://:secret@10.0.0.1:6379,redis://:secret@10.0.0.2:6379',
    timeout: '100ms',
    retryAfter: '5s',
  },
  plugin: {
    catalog: { window: { minutes: 1 }, incomingRequestLimit: 10 },
    search: { store: { type: 'memory' } },
    scaffolder: {
      passOnStoreError: true,
      store: { type: 'redis', connection: 'rediss://redis.internal:6380/1' },
    },
  },
};

/** The keys other packages' schemas require, so that only the keys under test can fail. */
function appConfig(backend: JsonObject): JsonObject {
  return {
    app: { baseUrl: 'http://localhost:3000' },
    backend: {
      baseUrl: 'http://localhost:7007',
      database: { client: 'better-sqlite3', connection: ':memory:' },
      ...backend,
    },
  };
}

function check(
  schema: ConfigSchema,
  backend: JsonObject,
  visibility: ConfigVisibility[] = BACKEND_VISIBILITIES,
): AppConfig {
  const [processed] = schema.process([{ data: appConfig(backend), context: 'app-config.yaml' }], {
    visibility,
    withFilteredKeys: true,
    // The option's TSDoc says it defaults to true, but config-loader 1.11 leaves the keys out unless asked.
    withDeprecatedKeys: true,
  });
  return processed;
}

const VALID: Array<[string, JsonObject]> = [
  ['rateLimit: true', { rateLimit: true }],
  ['a full rateLimit block with a Redis Cluster store', { rateLimit: FULL_RATE_LIMIT }],
  ['a window as a duration object', { rateLimit: { window: { minutes: 1 } } }],
  ['an ISO window', { rateLimit: { window: 'PT1M' } }],
  ['a memory store', { rateLimit: { store: { type: 'memory' } } }],
  [
    'a Redis store with duration objects',
    {
      rateLimit: {
        store: {
          type: 'redis',
          connection: 'redis://localhost:6379',
          timeout: { milliseconds: 100 },
          retryAfter: { seconds: 5 },
        },
      },
    },
  ],
  [
    'route rules in a plugin block',
    {
      rateLimit: {
        plugin: {
          scaffolder: {
            routes: [
              { name: 'task-creation', path: '/v2/tasks', method: 'POST', userRequestLimit: 10 },
              {
                path: '/entities/:kind',
                method: ['GET', 'HEAD'],
                window: '1m',
                dryRun: true,
                incomingRequestLimit: 5,
              },
            ],
          },
        },
      },
    },
  ],
  [
    'plugin blocks only',
    { rateLimit: { global: false, plugin: { catalog: { incomingRequestLimit: 5 } } } },
  ],
  ['lifecycle.startupRequestPauseTimeout', { lifecycle: { startupRequestPauseTimeout: '10s' } }],
  [
    'auth.dangerouslyDisableDefaultAuthPolicy',
    { auth: { dangerouslyDisableDefaultAuthPolicy: true } },
  ],
  ['trustProxy as a hop count', { trustProxy: 1 }],
  ['trustProxy as a list of ranges', { trustProxy: ['10.0.0.0/8'] }],
  ['trustProxy as a boolean', { trustProxy: false }],
];

const INVALID: Array<[string, JsonObject, string]> = [
  [
    'a limit that is not a number',
    { rateLimit: { incomingRequestLimit: 'many' } },
    'must be number { type=number } at /backend/rateLimit/incomingRequestLimit',
  ],
  [
    'a plugin limit that is not a number',
    { rateLimit: { plugin: { catalog: { incomingRequestLimit: 'many' } } } },
    'must be number { type=number } at /backend/rateLimit/plugin/catalog/incomingRequestLimit',
  ],
  [
    'a Redis store without connection',
    { rateLimit: { store: { type: 'redis' } } },
    "must have required property 'connection' { missingProperty=connection } at /backend/rateLimit/store",
  ],
  [
    'a plugin Redis store without connection',
    { rateLimit: { plugin: { catalog: { store: { type: 'redis' } } } } },
    "must have required property 'connection' { missingProperty=connection } at /backend/rateLimit/plugin/catalog/store",
  ],
  [
    'an unknown store type',
    { rateLimit: { store: { type: 'postgres' } } },
    'must be equal to constant { allowedValue=redis } at /backend/rateLimit/store/type',
  ],
  [
    'an allow list that is not a list',
    { rateLimit: { ipAllowList: 'x' } },
    'must be array { type=array } at /backend/rateLimit/ipAllowList',
  ],
  [
    'a dangerouslyDisableDefaultAuthPolicy that is not a boolean',
    { auth: { dangerouslyDisableDefaultAuthPolicy: 'yes' } },
    'must be boolean { type=boolean } at /backend/auth/dangerouslyDisableDefaultAuthPolicy',
  ],
  // Our reader treats `false` as off, but both schemas declare `true | { ... }`, so the merge refuses it:
  // leaving the key out is the way to turn rate limiting off that passes config:check.
  [
    'rateLimit: false',
    { rateLimit: false },
    'must be equal to constant { allowedValue=true } at /backend/rateLimit',
  ],
];

describe('config.d.ts merged with the @backstage/backend-defaults schema', () => {
  let schema: ConfigSchema;
  let strictSchema: ConfigSchema;

  beforeAll(async () => {
    schema = await loadConfigSchema({
      dependencies: [],
      packagePaths: [OUR_PACKAGE_JSON, BACKEND_DEFAULTS_PACKAGE_JSON],
    });
    // The same schemas, compiled again without collecting them from config.d.ts files a second time.
    strictSchema = await loadConfigSchema({
      serialized: schema.serialize(),
      noUndeclaredProperties: true,
    });
  }, SCHEMA_COMPILE_TIMEOUT_MS);

  it('compiles config.d.ts and collects both schemas', () => {
    const { schemas } = schema.serialize() as { schemas: Array<{ packageName: string }> };

    expect(schemas.map(({ packageName }) => packageName)).toEqual(
      expect.arrayContaining(['backstage-http-router', '@backstage/backend-defaults']),
    );
  });

  describe.each([
    ['config:check', () => schema],
    ['config:check --strict', () => strictSchema],
  ])('%s', (_mode, getSchema) => {
    it.each(VALID)('accepts %s', (_name, backend) => {
      expect(check(getSchema(), backend).data).toEqual(appConfig(backend));
    });

    it.each(INVALID)('rejects %s', (_name, backend, message) => {
      expect(() => check(getSchema(), backend)).toThrow(message);
    });
  });

  it('rejects an undeclared rateLimit key only with --strict', () => {
    const backend = { rateLimit: { incomingRequestLimt: 10 } };

    expect(() => check(schema, backend)).not.toThrow();
    expect(() => check(strictSchema, backend)).toThrow(
      'must NOT have additional properties { additionalProperty=incomingRequestLimt } at /backend/rateLimit',
    );
  });

  it('reports the misspelt skipSuccesfulRequests as deprecated', () => {
    const { deprecatedKeys } = check(schema, { rateLimit: { skipSuccesfulRequests: true } });

    expect(deprecatedKeys).toEqual([
      {
        key: 'backend.rateLimit.skipSuccesfulRequests',
        description: 'Use skipSuccessfulRequests.',
      },
    ]);
  });

  describe('visibility', () => {
    it('keeps the Redis connections out of everything but secret visibility', () => {
      const { data, filteredKeys } = check(schema, { rateLimit: FULL_RATE_LIMIT }, [
        'frontend',
        'backend',
      ]);

      expect(filteredKeys).toEqual(
        expect.arrayContaining([
          'backend.rateLimit.store.connection',
          'backend.rateLimit.plugin.scaffolder.store.connection',
        ]),
      );
      expect(data).toHaveProperty('backend.rateLimit.store', {
        type: 'redis',
        timeout: '100ms',
        retryAfter: '5s',
      });
      expect(data).toHaveProperty('backend.rateLimit.plugin.scaffolder.store', { type: 'redis' });
    });

    it('is what marks the connection secret, since upstream leaves it backend-visible', async () => {
      const upstreamOnly = await loadConfigSchema({
        dependencies: [],
        packagePaths: [BACKEND_DEFAULTS_PACKAGE_JSON],
        excludePackageDependencies: true,
      });

      const { data } = check(upstreamOnly, { rateLimit: FULL_RATE_LIMIT }, ['frontend', 'backend']);

      expect(data).toHaveProperty(
        'backend.rateLimit.store.connection',
        'redis://:secret@10.0.0.1:6379,redis://:secret@10.0.0.2:6379',
      );
    });

    it('shows no key of ours to the frontend', () => {
      const { data } = check(
        schema,
        {
          rateLimit: FULL_RATE_LIMIT,
          trustProxy: 1,
          lifecycle: { startupRequestPauseTimeout: '10s' },
          auth: { dangerouslyDisableDefaultAuthPolicy: true },
        },
        ['frontend'],
      );

      for (const key of ['rateLimit', 'trustProxy', 'lifecycle', 'auth']) {
        expect(data).not.toHaveProperty(['backend', key]);
      }
    });
  });
});
