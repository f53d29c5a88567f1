import { createRequire } from 'node:module';
import { pathToRegexp } from 'path-to-regexp';
import { compilePolicyPath, PolicyPathSyntaxError } from '../../authPolicy/paths';
import { createAuthPolicyRegistry } from '../../authPolicy/registry';
import { ERROR_CODES } from '../../errors';

/** Express 4's own path-to-regexp, resolved from express so that it is the copy its router uses. */
const requireFromExpress = createRequire(require.resolve('express'));
const expressPathToRegexp = requireFromExpress('path-to-regexp') as (
  path: string,
  keys: unknown[],
  options: object,
) => RegExp;

/** Whether a percent-encoded capture of `match` does not decode (express 4 answers 400, never routing). */
const undecodable = (match: RegExpExecArray | null) =>
  (match ?? []).slice(1).some(value => {
    try {
      decodeURIComponent(value ?? '');
      return false;
    } catch {
      return true;
    }
  });

/** What a case-sensitive express 4 router hands to `router.use(policy, handler)`. */
function expressCovers(policy: string, path: string): boolean {
  const match = expressPathToRegexp(policy, [], { end: false, sensitive: true }).exec(path);
  return match !== null && !undecodable(match);
}

/** Upstream's credentials barrier, made case-sensitive, with express 4's decoding rule. */
function upstreamCovers(policy: string, path: string): boolean {
  const match = pathToRegexp(policy, { end: false, sensitive: true }).regexp.exec(path);
  return match !== null && !undecodable(match);
}

/** Whether a registry holding only `policy` opens `path` (the prefix index included). */
function registryCovers(policy: string, path: string): boolean {
  const registry = createAuthPolicyRegistry({ pluginId: 'p' });
  registry.add({ path: policy, allow: 'unauthenticated' });
  return registry.lookup(path) === 'unauthenticated';
}

/** Request paths tried against every policy below. */
const REQUESTS = [
  '/', '//', '/x', '/x/', '/x/y', '/xa', '/xab', '/x/a', '/x/1', '/x/1/y', '/x/1.json', '/x/a.b', '/health',
  '/health/', '/HEALTH/x', '/health//x', '/healthz', '/health.json', '/users', '/users/', '/users/42',
  '/USERS/42/posts', '/users42', '/usersabc', '/user/42', '/user/abc', '/user/%E0%A4', '/user/%C3%A9', '/static',
  '/static/', '/static/a/b', '/staticx', '/acd', '/abcd', '/abbcd', '/abe', '/abcde', '/file', '/file.txt',
  '/file.tar.gz', '/files/a', '/files/a/b/c', '/lang/fr', '/lang/de', '/a/b-1', '/a/b-', '/a/from-to', '/v2/x',
  '/docs', '/docs/', '/docs-2', '/docs2', '/docs/raw', '/docs/intro/raw', '/docsraw', '/docs/x/y', '/docs/a-x',
  '/docs-x', '/é/x', '/É/x', '/key', '/\u212Aey', '/.x', '/.x/y', '/a/*', '/x./b', '/x/.b', '/ab', '/a/b',
  '/zzz/b', '/a/:', '/a|b',
]; // prettier-ignore

/** Policy paths of both syntaxes, including the shapes whose literal prefix is short or absent. */
const POLICIES = [
  '/x', '/health', '/health/', '/API/V1', '/users/:id', '/files/*path', '/x/*rest/y', '/:id', '/x/:a-:b',
  '/:a.:b', '/users{/:id}', '/docs{/:page}/raw', '/docs{/:a}{/:b}', '/docs{-:v}', '/docs{/a}-x', '{/:a}/x',
  '/x/*p.json', '/é/x', '/key', 'x/y', '/x/.:ext', '/static/:id?', '/users/:id?', '/users/:id?abc',
  '/user/:id(\\d+)', '/user/:id(\\d+)?', '/static/*', '/ab?cd', '/ab+cd', '/ab(cd)?e', '/a/?b', '/x(a|b)',
  '/file.:ext?', '/files/:name.:ext', '/lang/:lang(en|fr)', '/a/b-:v', '/a/:from-:to?', '/(.*)', '/x/:id*',
  '/x/:id(.*)', '/a|b', '/x/(a)|b', '/a/:', '/a[b]', '/x/:id((a+)+)',
]; // prettier-ignore

describe('policy paths', () => {
  it('compares with the path-to-regexp 0.1 that express 4 routes with', () => {
    expect(requireFromExpress('path-to-regexp/package.json').version).toMatch(/^0\.1\./);
  });

  it.each([
    ['/', 'everything'],
    ['*', 'everything'],
    ['/health', 'path-to-regexp-8'],
    ['/users/:id', 'path-to-regexp-8'],
    ['/files/*path', 'path-to-regexp-8'],
    ['/users{/:id}', 'path-to-regexp-8'],
    ['/static/*', 'express-4'],
    ['/static/:id?', 'express-4'],
    ['/user/:id(\\d+)', 'express-4'],
    ['/ab?cd', 'express-4'],
    ['/a[b]', 'express-4'],
  ])('reads %j as %s', (path, syntax) => {
    expect(compilePolicyPath(path).syntax).toBe(syntax);
  });

  it.each(POLICIES)('covers what its router covers, and nothing else, with %j', policy => {
    const reference =
      compilePolicyPath(policy).syntax === 'express-4' ? expressCovers : upstreamCovers;
    const expected = REQUESTS.filter(path => reference(policy, path));

    expect(REQUESTS.filter(path => compilePolicyPath(policy).matches(path))).toEqual(expected);
    expect(REQUESTS.filter(path => registryCovers(policy, path))).toEqual(expected);
  });

  it.each([
    // Everything
    ['/', '/anything/at/all', true],
    ['*', '/x', true],
    // Literal prefixes on segment boundaries, case-sensitive
    ['/health', '/health/x', true],
    ['/health', '/HEALTH', false],
    ['/health', '/healthz', false],
    ['/health', '/%68ealth', false],
    ['/key', '/\u212Aey', false],
    ['/é', '/É', false],
    // Upstream's meaning kept: a trailing slash in the policy needs one in the request
    ['/static/', '/static/', true],
    ['/static/', '/static', false],
    ['/static/', '/static/app.js', false],
    // Express 4 forms, with express 4's meaning
    ['/static/:id?', '/static', true],
    ['/static/:id?', '/staticx', false],
    ['/user/:id(\\d+)', '/user/abc', false],
    ['/static/*', '/static', false],
    ['/ab?cd', '/acd', true],
    ['/(.*)', '/.env', true],
    ['/(.*)', '/anything', false],
    // An express 4 top-level `|` is an alternation whose second half is not anchored, in the router as in the policy
    ['/x/(a)|b', '/zzz/b', true],
    ['/a|b', '/zzz/b', false],
    // Express answers 400 to a parameter that does not percent-decode: never routed, so not covered
    ['/user/:id?', '/user/%E0%A4', false],
    ['/users/:id', '/users/%zz', false],
    ['/user/:id?', '/user/%C3%A9', true],
  ])('%j covers %j: %s', (policy, path, expected) => {
    expect(compilePolicyPath(policy).matches(path)).toBe(expected);
    expect(registryCovers(policy, path)).toBe(expected);
  });

  it.each([
    ['/health', ['', 'health']],
    ['/health/', ['', 'health', '']],
    ['/users/:id', ['', 'users']],
    ['/users{/:id}', ['', 'users']],
    ['/docs{-:v}', ['']],
    ['/docs{/a}-x', ['']],
    ['{/:lang}/docs', ['']],
    ['/static/*', ['', 'static']],
    ['/static/:id?', ['', 'static']],
    ['/users/:id?abc', ['']],
    ['/user/:id(\\d+)', ['', 'user']],
    ['/a/b+', ['', 'a']],
    ['/a/?b', ['']],
    ['/file.:ext?', ['']],
    ['/lang/:lang(en|fr)', []],
    ['*', []],
  ])('indexes %j under the whole literal segments %j', (path, prefix) => {
    expect(compilePolicyPath(path).prefix).toEqual(prefix);
  });

  it.each<[string, number]>([
    // Neither compiler reads them
    ['/a(b', 2],
    ['/a)b', 2],
    ['/x/:id((a)', 6],
    // Braces are path-to-regexp 8 groups: its error is reported
    ['/a/{b', 5],
    ['/a/:b}', 5],
    ['{/a}{/b}{/c}{/d}{/e}{/f}{/g}{/h}{/i}{/j}{/k}{/l}{/m}{/n}{/o}{/p}', 0],
  ])('refuses %j with a position (%i)', (path, position) => {
    expect(() => compilePolicyPath(path)).toThrow(PolicyPathSyntaxError);
    expect(() => compilePolicyPath(path)).toThrow(expect.objectContaining({ position }));
    const registry = createAuthPolicyRegistry({ pluginId: 'catalog' });
    expect(() => registry.add({ path, allow: 'unauthenticated' })).toThrow(
      expect.objectContaining({
        code: ERROR_CODES.authPolicy,
        pluginId: 'catalog',
        path,
        position,
      }),
    );
  });
});
