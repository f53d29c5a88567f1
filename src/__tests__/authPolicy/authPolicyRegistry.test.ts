import { createAuthPolicyRegistry } from '../../authPolicy/registry';
import { AuthPolicyError, ERROR_CODES } from '../../errors';

/** A registry of `count` policies, the `i`th made by `shape(i)`, alternating the two kinds of access. */
function registryWith(count: number, shape: (i: number) => string) {
  const registry = createAuthPolicyRegistry({ pluginId: 'many' });
  for (let i = 0; i < count; i++) {
    registry.add({ path: shape(i), allow: i % 2 ? 'user-cookie' : 'unauthenticated' });
  }
  return registry;
}

/** How many prefix nodes and policies one lookup of `path` tries. */
function workOf(registry: ReturnType<typeof createAuthPolicyRegistry>, path: string): number {
  const before = registry.work;
  registry.lookup(path);
  return registry.work - before;
}

/** A request path of about 1 KiB that no policy below covers. */
const LONG_MISS = `/${Array.from({ length: 100 }, (_, index) => `seg${index}-abc`).join('/')}`;

describe('auth policy registry', () => {
  it('answers unauthenticated over user-cookie, and later policies apply to later lookups', () => {
    const registry = createAuthPolicyRegistry({ pluginId: 'catalog' });
    expect(registry.lookup('/static/x')).toBeUndefined();
    registry.add({ path: '/static', allow: 'user-cookie' });
    expect(registry.lookup('/static/x')).toBe('user-cookie');
    registry.add({ path: '/static/:file?', allow: 'unauthenticated' });
    expect(registry.lookup('/static/x')).toBe('unauthenticated');
    expect(registry.list()).toEqual([
      { path: '/static', allow: 'user-cookie' },
      { path: '/static/:file?', allow: 'unauthenticated' },
    ]);
  });

  it.each([
    ['/static/../secret.txt', undefined],
    ['/static/%2e%2e/secret.txt', undefined],
    ['/static/..%2fsecret.txt', undefined],
    ['/static/..\\secret.txt', undefined],
    ['/static/./app.js', 'unauthenticated'],
    ['/static/x/../app.js', 'unauthenticated'],
    ['/cookie/../static/app.js', 'user-cookie'],
  ])(
    'opens %j, with dot segments or encoded slashes, only as far as what it resolves to: %s',
    (path, access) => {
      const registry = createAuthPolicyRegistry();
      registry.add({ path: '/static', allow: 'unauthenticated' });
      registry.add({ path: '/cookie', allow: 'user-cookie' });
      expect(registry.lookup(path)).toBe(access);
    },
  );

  it.each([
    [null, undefined, '{ path, allow }'],
    [{ path: '', allow: 'unauthenticated' }, '', 'non-empty string'],
    [{ path: 42, allow: 'unauthenticated' }, 42, 'non-empty string'],
    [{ path: '/x', allow: 'everyone' }, '/x', "'unauthenticated', 'user-cookie'"],
    [{ path: '/a(b', allow: 'unauthenticated' }, '/a(b', 'Accepted:'],
  ])(
    'refuses %j with the code, the plugin, the path and what is accepted',
    (policy, path, fragment) => {
      const registry = createAuthPolicyRegistry({ pluginId: 'catalog' });
      let caught: unknown;
      try {
        registry.add(policy);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(AuthPolicyError);
      expect(caught).toMatchObject({ code: ERROR_CODES.authPolicy, pluginId: 'catalog', path });
      expect((caught as Error).message).toContain("plugin 'catalog'");
      expect((caught as Error).message).toContain(fragment);
      expect(registry.list()).toEqual([]);
    },
  );

  it.each<[string, (i: number) => string, (i: number) => string]>([
    ['literal segments', i => `/q${i}/x`, i => `/q${i}/x/y`],
    ['literal segments under a shared one', i => `/api/q${i}`, i => `/api/q${i}/y`],
    ['a parameter', i => `/q${i}/:id`, i => `/q${i}/42`],
    ['an optional group', i => `/q${i}{/:id}`, i => `/q${i}`],
    ['a wildcard', i => `/q${i}/*rest`, i => `/q${i}/a/b`],
    ['an optional wildcard', i => `/q${i}/{*rest}`, i => `/q${i}/a`],
    ['text and parameters in a segment', i => `/q${i}/:a-:b`, i => `/q${i}/x-y`],
    ['an express 4 wildcard', i => `/q${i}/*`, i => `/q${i}/a/b`],
    ['an express 4 optional parameter', i => `/q${i}/:id?`, i => `/q${i}`],
    ['an express 4 pattern parameter', i => `/q${i}/:id(\\d+)`, i => `/q${i}/7`],
  ])('looks up as cheaply among 1,000 policies as among 1 with %s', (_name, shape, covered) => {
    const one = registryWith(1, shape);
    const many = registryWith(1000, shape);

    expect(many.lookup(covered(998))).toBe('unauthenticated');
    expect(many.lookup(covered(999))).toBe('user-cookie');
    expect(workOf(many, covered(998))).toBe(workOf(one, covered(0)));
    expect(workOf(many, LONG_MISS)).toBe(workOf(one, LONG_MISS));
    expect(workOf(many, '/')).toBe(workOf(one, '/'));
  });

  it.each<[string, (i: number) => string, (i: number) => string]>([
    ['a parameter first', i => `/:id/q${i}`, i => `/42/q${i}`],
    ['an optional group first', i => `{/:lang}/q${i}`, i => `/en/q${i}`],
    ['a wildcard first', i => `/*rest/q${i}`, i => `/a/b/q${i}`],
    ['an express 4 quantifier first', i => `/ab?c/q${i}`, i => `/ac/q${i}`],
    ['an express 4 alternation', i => `/q${i}/:lang(en|fr)`, i => `/q${i}/en`],
  ])(
    'tries each policy once per lookup among 1,000 with %s (documented)',
    (_name, shape, covered) => {
      const one = registryWith(1, shape);
      const many = registryWith(1000, shape);

      expect(many.lookup(covered(998))).toBe('unauthenticated');
      expect(workOf(many, LONG_MISS)).toBeLessThanOrEqual(workOf(one, LONG_MISS) + 999);
    },
  );

  it('tries a 64 KiB request path only against the policies without a literal prefix among 1,000', () => {
    const unprefixed = [
      '/:a-:b-:c.json',
      '/*a/*b/x',
      '/:p*/z',
      '/ab+cd',
      '/:a-:b?/z',
      '{/:a}{/:b}/x',
    ];
    const many = registryWith(1000, i => `/p${i}/:a-:b-:c.json`);
    const alone = createAuthPolicyRegistry();
    for (const path of unprefixed) {
      many.add({ path, allow: 'unauthenticated' });
      alone.add({ path, allow: 'unauthenticated' });
    }
    const long = `/${'a-'.repeat(32 * 1024)}`;

    expect(many.lookup(long)).toBeUndefined();
    expect(workOf(many, long)).toBe(workOf(alone, long));
    expect(workOf(many, long)).toBeLessThanOrEqual(2 + unprefixed.length);
  });
});
