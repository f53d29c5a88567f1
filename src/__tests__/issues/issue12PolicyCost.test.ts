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
  ['an express 4 pattern parameter first', i => `/:id(\\d+)/q${i}`, i => `/7/q${i}`],
  ['an express 4 class parameter first', i => `/:id([a-z]+)/q${i}`, i => `/abc/q${i}`],
  ['an express 4 pattern parameter last', i => `/q${i}/:id(\\d+)`, i => `/q${i}/7`],
  ['an express 4 optional pattern parameter first', i => `/:id(\\d+)?/q${i}`, i => `/q${i}`],
  ['an express 4 quantifier first', i => `/ab?c/q${i}`, i => `/ac/q${i}`],
  ['an express 4 group first', i => `/(x|y)/q${i}`, i => `/y/q${i}`],
  ['express 4 text and an optional parameter first', i => `/:a-:b?/q${i}`, i => `/x-y/q${i}`],
];

/**
 * Shapes whose segment's end is not known before matching (documented in docs/auth-policy-paths.md): each
 * policy's expression is tried at most once per node it is left at and that a lookup reaches (`nodes`).
 */
const UNINDEXED_SHAPES: Array<[string, (i: number) => string, (i: number) => string, number]> = [
  ['an express 4 repeated parameter first', i => `/:id*/q${i}`, i => `/x/q${i}`, 1],
  ['an express 4 unnamed wildcard first', i => `/*/q${i}`, i => `/a/b/q${i}`, 1],
  ['an express 4 pattern that can take a / first', i => `/:id(.*)/q${i}`, i => `/a/b/q${i}`, 1],
  ['an express 4 optional / first', i => `/a/?b/q${i}`, i => `/ab/q${i}`, 1],
  [
    'a fifth express 4 optional parameter',
    i => `/:a?/:b?/:c?/:d?/:e?/q${i}`,
    i => `/1/2/3/4/5/q${i}`,
    5,
  ],
  [
    'a wildcard sharing its segment with text first',
    i => `/*f.json/q${i}`,
    i => `/a/b.json/q${i}`,
    1,
  ],
  ['a wildcard after another', i => `/*a/q${i}/*b`, i => `/x/q${i}/y`, 1],
];

/** Policy `i` of a mix that cycles through `shapes`. */
const shape = (i: number, shapes: ReadonlyArray<(i: number) => string>) =>
  shapes[i % shapes.length](i);

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
  it('adds policies with work linear in their number, each in the length of its branches', () => {
    const all = [...INDEXED_SHAPES, ...UNINDEXED_SHAPES];
    const shapes = all.map(([, policy]) => policy);
    const request = shape(
      9991,
      all.map(([, , covered]) => covered),
    );
    const paths = Array.from({ length: 10_000 }, (_, i) => shape(i, shapes));
    const compiled = paths.map(path => compilePolicyPath(path));
    const matcher = createPolicyMatcher();
    const unexpected: Array<{ path: string; work: number; steps: number }> = [];
    let atThousand = 0;
    let mostSteps = 0;
    compiled.forEach((policy, i) => {
      const before = matcher.insertWork;
      matcher.add(policy, i % 2 ? 'unauthenticated' : 'user-cookie');
      const steps = policy.branches.reduce((sum, branch) => sum + branch.steps.length + 1, 0);
      mostSteps = Math.max(mostSteps, steps);
      // An add indexes its own branches, whatever was added before.
      const work = matcher.insertWork - before;
      if (work !== steps) unexpected.push({ path: policy.path, work, steps });
      if (i === 999) atThousand = matcher.insertWork;
    });

    expect(unexpected.slice(0, 5)).toEqual([]);
    // 1,000 is not a whole number of rounds through the shapes: allow one round's worth.
    expect(matcher.insertWork).toBeLessThanOrEqual(10 * atThousand + shapes.length * mostSteps);
    expect(matcher.lookup(request)).toBe('unauthenticated');
    const registry = createAuthPolicyRegistry({ pluginId: 'many' });
    paths.forEach((path, i) =>
      registry.add({ path, allow: i % 2 ? 'unauthenticated' : 'user-cookie' }),
    );
    expect(registry.lookup(request)).toBe('unauthenticated');
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
    'tries each policy at most once per node among 4,000 with %s (documented)',
    (_name, shape, covered, nodes) => {
      const one = matcherWith(1, shape);
      const many = matcherWith(4000, shape);

      expect(many.lookup(covered(3999))).toBe('unauthenticated');
      expect(many.lookup(LONG_MISS)).toBeUndefined();
      expect(workOf(many, LONG_MISS)).toBeLessThanOrEqual(workOf(one, LONG_MISS) + 3999 * nodes);
      expect(workOf(many, covered(3999))).toBeLessThanOrEqual(
        workOf(one, covered(0)) + 3999 * nodes,
      );
    },
  );
});
