import { compilePolicyPath } from '../../authPolicy/compilePolicyPath';
import { createPolicyMatcher } from '../../authPolicy/createPolicyMatcher';

const covers = (policy: string, path: string) =>
  createPolicyMatcher([{ compiled: compilePolicyPath(policy), allow: 'unauthenticated' }]).lookup(
    path,
  ) === 'unauthenticated';

describe('compilePolicyPath', () => {
  it.each([
    // Everything
    ['/', '/anything/at/all', true],
    ['*', '/x', true],
    // Literal prefixes on segment boundaries, case-sensitive, trailing slash tolerated
    ['/health', '/health', true],
    ['/health', '/health/', true],
    ['/health', '/health/x', true],
    ['/health', '/HEALTH', false],
    ['/API', '/API/x', true],
    ['/health', '/healthz', false],
    ['/health', '/health.json', false],
    ['/health', '/x/health', false],
    ['/health', '/%68ealth', false],
    ['/.well-known/jwks.json', '/.well-known/jwks.json', true],
    ['/.well-known/jwks.json', '/.well-known/jwksxjson', false],
    ['/a-b', '/a-b/c', true],
    // Upstream quirk kept: a trailing slash in the policy needs one in the request
    ['/static/', '/static/', true],
    ['/static/', '/static', false],
    ['/static/', '/static/app.js', false],
    // No case folding at all, non-ASCII included
    ['/key', '/\u212Aey', false],
    ['/é', '/É', false],
    ['/é', '/é/x', true],
    // path-to-regexp 8 forms
    ['/users/:id', '/users/42', true],
    ['/users/:id', '/users/42/posts', true],
    ['/users/:id', '/users', false],
    ['/users/:id', '/users/', false],
    ['/users/:id', '/users/%zz', false],
    ['/files/*path', '/files/a/b/c', true],
    ['/files/*path', '/files', false],
    ['/users{/:id}', '/users', true],
    ['/users{/:id}', '/users/42', true],
    ['/users{/:id}', '/usersx', false],
    // Optional groups that start a segment: the literal before them is indexed as a whole segment
    ['/users{/:id}', '/USERS/42/posts', false],
    ['/users{/:id}', '/users/42/posts', true],
    ['/users{/:id}', '/users/', true],
    ['/docs{/:page}/raw', '/docs/raw', true],
    ['/docs{/:page}/raw', '/docs/intro/raw', true],
    ['/docs{/:page}/raw', '/docs/intro', false],
    ['/docs{/:page}/raw', '/docsraw', false],
    ['/docs{/:a}{/:b}', '/docs/x/y', true],
    ['/docs{/:a}{/:b}', '/docsy', false],
    ['/docs{-:v}', '/docs-2', true],
    ['/docs{-:v}', '/docs', true],
    ['/docs{-:v}', '/docs2', false],
    ['/:a.:b', '/file.json', true],
    ['/:a.:b', '/file', false],
    ['/:a-:b', '/x-y', true],
    ['/:a-:b', '/xy', false],
    // Express 4 forms
    ['/static/:id?', '/static', true],
    ['/static/:id?', '/static/1', true],
    ['/static/:id?', '/staticx', false],
    ['/user/:id(\\d+)', '/user/42', true],
    ['/user/:id(\\d+)', '/user/abc', false],
    ['/user/:id(\\d+)?', '/user', true],
    ['/static/*', '/static/a/b', true],
    ['/static/*', '/static', false],
    ['/static/*', '/staticx', false],
    ['/ab?cd', '/acd', true],
    ['/ab?cd', '/abcd', true],
    ['/ab?cd', '/abbcd', false],
    ['/ab+cd', '/abbbcd', true],
    ['/ab+cd', '/acd', false],
    ['/ab(cd)?e', '/abe', true],
    ['/ab(cd)?e', '/abcde', true],
    ['/ab(cd)?e', '/abce', false],
    ['/lang/:lang(en|fr)', '/lang/fr', true],
    ['/lang/:lang(en|fr)', '/lang/de', false],
    ['/file.:ext?', '/file', true],
    ['/file.:ext?', '/file.txt', true],
    ['/a/:b-:c?', '/a/x-y', true],
    // Express 4.22 escapes the dot in `/(.*)`: it only covers paths whose first segment starts with '.'
    ['/(.*)', '/.env', true],
    ['/(.*)', '/anything', false],
    // Express decodes parameters before routing: a value that does not decode is never routed
    ['/user/:id?', '/user/%E0%A4', false],
    ['/user/:id?', '/user/%C3%A9', true],
  ])('%j covers %j: %s', (policy, path, expected) => {
    expect(covers(policy, path)).toBe(expected);
  });

  it.each([
    ['/users/:id', 'path-to-regexp-8'],
    ['/files/*path', 'path-to-regexp-8'],
    ['/static/*', 'express-4'],
    ['/static/:id?', 'express-4'],
    ['*', 'everything'],
  ])('reads %j as %s', (policy, syntax) => {
    expect(compilePolicyPath(policy).syntax).toBe(syntax);
  });
});
