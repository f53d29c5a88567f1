import { compilePolicyPath } from '../../authPolicy/compilePolicyPath';
import { createAuthPolicyRegistry } from '../../authPolicy/createAuthPolicyRegistry';
import { createPolicyMatcher } from '../../authPolicy/createPolicyMatcher';

/** A request path of about 1 KiB that no policy below covers. */
const LONG_MISS = `/${Array.from({ length: 100 }, (_, index) => `seg${index}-abc`).join('/')}`;

/** Policy shapes, one per index, and a request each covers; none needs to be tried policy by policy. */
const INDEXED_SHAPES: Array<[string, (i: number) => string, (i: number) => string]> = [
  ['literal segments', i => `/q${i}/x`, i => `/q${i}/x/y`],
  ['a parameter first', i => `/:id/q${i}`, i => `/42/q${i}`],
  ['a parameter last', i => `/q${i}/:id`, i => `/q${i}/42`],
  ['an optional group first', i => `{/:lang}/q${i}`, i => `/en/q${i}`],
  ['an optional group last', i => `/q${i}{/:id}`, i => `/q${i}/7/x`],
  ['a wildcard first', i => `/*rest/q${i}`, i => `/a/b/c/q${i}`],
  ['a wildcard last', i => `/q${i}/*rest`, i => `/q${i}/a/b`],
  ['text and parameters in a segment first', i => `/:a-:b/q${i}`, i => `/x-y/q${i}`],
  ['an express 4 optional parameter last', i => `/:id/q${i}/:x?`, i => `/x/q${i}`],
  ['an express 4 optional parameter first', i => `/:id?/q${i}`, i => `/x/q${i}`],
];

/** Express 4 shapes whose first segments are not whole: their expressions are tried one by one. */
const UNINDEXED_SHAPES: Array<[string, (i: number) => string, (i: number) => string]> = [
  ['a repeated parameter first', i => `/:id*/q${i}`, i => `/x/q${i}`],
  ['a pattern first', i => `/:id(\\d+)/q${i}`, i => `/7/q${i}`],
  ['an unnamed wildcard first', i => `/*/q${i}`, i => `/a/b/q${i}`],
  ['a quantifier first', i => `/ab?c/q${i}`, i => `/ac/q${i}`],
];

/** How much work one lookup of `path` does in `matcher`. */
function workOf(matcher: ReturnType<typeof createPolicyMatcher>, path: string): number {
  const before = matcher.work;
  matcher.lookup(path);
  return matcher.work - before;
}

function matcherWith(count: number, shape: (i: number) => string) {
  const matcher = createPolicyMatcher();
  for (let i = 0; i < count; i++) {
    matcher.add(compilePolicyPath(shape(i)), 'unauthenticated');
  }
  return matcher;
}

describe('issue 12 item 4: the cost of auth policies', () => {
  it('adds 10,000 policies of mixed shapes well under a second', () => {
    const registry = createAuthPolicyRegistry({ pluginId: 'many' });
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) {
      const [, shape] = INDEXED_SHAPES[i % INDEXED_SHAPES.length];
      registry.add({ path: shape(i), allow: i % 2 ? 'unauthenticated' : 'user-cookie' });
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;

    expect(registry.lookup('/42/q9991')).toBe('unauthenticated');
    expect(elapsedMs).toBeLessThan(1000);
  });

  it.each(INDEXED_SHAPES)(
    'looks up as cheaply among 4,000 policies as among 1 with %s',
    (_name, shape, covered) => {
      const one = matcherWith(1, shape);
      const many = matcherWith(4000, shape);

      expect(many.lookup(covered(1234))).toBe('unauthenticated');
      expect(many.lookup(LONG_MISS)).toBeUndefined();
      expect(workOf(many, LONG_MISS)).toBe(workOf(one, LONG_MISS));
      expect(workOf(many, covered(3999))).toBe(workOf(one, covered(0)));
      expect(workOf(many, '/')).toBe(workOf(one, '/'));
    },
  );

  it.each(UNINDEXED_SHAPES)(
    'tries each policy at most once among 4,000 with %s (documented)',
    (_name, shape, covered) => {
      const one = matcherWith(1, shape);
      const many = matcherWith(4000, shape);

      expect(many.lookup(covered(3999))).toBe('unauthenticated');
      expect(many.lookup(LONG_MISS)).toBeUndefined();
      expect(workOf(many, LONG_MISS)).toBeLessThanOrEqual(workOf(one, LONG_MISS) + 3999);
      expect(workOf(many, covered(3999))).toBeLessThanOrEqual(workOf(one, covered(0)) + 3999);
    },
  );
});
