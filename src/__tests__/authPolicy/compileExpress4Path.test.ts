import { createRequire } from 'node:module';
import { PolicyPathSyntaxError } from '../../errors';
import { compileExpress4Path } from '../../authPolicy/compileExpress4Path';
import { coversCompiledPath } from '../helpers/coversCompiledPath';
import { PARAM, toSteps } from '../helpers/segmentSteps';
import type { SegmentStep } from '../../authPolicy/types';

/** Express 4's own path-to-regexp 0.1, resolved from express so that it is the copy its router uses. */
const requireFromExpress = createRequire(require.resolve('express'));
const express4PathToRegexp = requireFromExpress('path-to-regexp') as (
  path: string,
  keys: unknown[],
  options: { end: boolean; strict: boolean; sensitive: boolean },
) => RegExp;

/** Whether `router.use(policy)` in a case-sensitive Express 4 router receives a request for `path`. */
const expressCovers = (policy: string, path: string) =>
  express4PathToRegexp(policy, [], { end: false, strict: false, sensitive: true }).test(path);

const covers = (policy: string, path: string) =>
  coversCompiledPath(compileExpress4Path(policy), path);

/** A pattern step: Express's pieces for one segment, which must end where the segment ends. */
const pattern = (pieces: string): SegmentStep => ({
  kind: 'pattern',
  source: `${pieces}(?=\\/|$)`,
});

/** Request paths tried against every accepted policy path. */
const REQUESTS = [
  '', '/', '//', '/x', '/x/', '/x/y', '/xa', '/xab', '/xabab', '/x/a', '/x/b', '/x/1', '/x/1/y', '/x/1/2/y',
  '/x/1.json', '/x/a.b', '/health', '/health/', '/HEALTH/x', '/healthz', '/health.json', '/users', '/users/',
  '/users/42', '/USERS/42/posts', '/users42', '/user/42', '/user/abc', '/static', '/static/', '/static/a/b',
  '/staticx', '/acd', '/abcd', '/abbcd', '/abbbcd', '/abe', '/abcde', '/abce', '/file', '/file.txt',
  '/file.tar.gz', '/files/a', '/files/a.b', '/lang/fr', '/lang/de', '/a/b-1', '/a/b-', '/a/b-1/x', '/a/from-to',
  '/a/-to', '/v2/x', '/v/x', '/docs/x.json', '/docs/xjson', '/é/x', '/É/x', '/x/é', '/x/É', '/.x', '/.x/y',
  '/a.b', '/axb', '/a/*', '/a/x', '/key', '/\u212Aey', '/api/v1', '/API/V1/z', '/x//y', '/x/ab/y', '/x/a/b',
  '/x/ab', '/x/a/y', '/b/y', '/a/y/z', '/user/x', '/user/12/x', '/user/12/x/y', '/x/1a/y', '/x/%2F/y', '/x/a%2Fb',
  '/x-y/z', '/x-/z', '/xy/z',
]; // prettier-ignore

/** Policy paths Express 4 and the compiler both accept. */
const ACCEPTED = [
  '', '*', ':id', '/', '/x', '/x/', '/health', '/API/V1', '/docs/x.json', '/a\\.b', '/a/\\*', '/users/:id',
  '/users/:id?', '/user/:id(\\d+)', '/user/:id(\\d+)?', '/static/*', '/ab?cd', '/ab+cd', '/ab(cd)?e', '/x(ab)+',
  '/x(a|b)', '/file.:ext?', '/files/:name.:ext', '/lang/:lang(en|fr)', '/:id', '/:a/:b', '/a/b-:v',
  '/a/:from-:to', '/v:version/x', '/x/:id/y', '/x/:id*', '/x/:id*/y', '/x/:id(.*)', '/x/:id([a-z]+)',
  '/x/:id(\\d{2,4}?)', '/x/:id(a|b|)', '/(.*)', '/é/x', '/x/é', '/key', '/x/:id([a-z]+)', '/x/:id([^/]+)/y',
  '/(a|b)/y', '/x/:id([^a]+)', '/x/:id(\\D+)', '/x/:id([!-~]+)', '/x/a/?b', '/x/(a/b)', '/user/:id(\\d+)?/x',
  '/:a-:b?/z', '/x/:id(\\d*)/y', '/x/:id(\\d+)/:y(a|b)?', '/x/:id([\\w%]+?)/y',
]; // prettier-ignore

describe('compileExpress4Path', () => {
  it('compares with the path-to-regexp 0.1 that Express 4 bundles', () => {
    expect(requireFromExpress('path-to-regexp/package.json').version).toMatch(/^0\.1\./);
  });

  it.each<[string, Array<string | SegmentStep>, string | undefined, boolean]>([
    // path, steps, tail, hasCaptures
    ['/health', ['', 'health'], undefined, false],
    ['/API/V1', ['', 'API', 'V1'], undefined, false],
    ['/docs/x.json', ['', 'docs', 'x.json'], undefined, false],
    ['/a\\.b', ['', 'a.b'], undefined, false],
    ['/a/\\*', ['', 'a', '*'], undefined, false],
    // The trailing slash is optional in Express 4, so it stays in the tail.
    ['/health/', ['', 'health'], '/?(?=\\/|$)', false],
    ['', [''], undefined, false],
    ['/users/:id', ['', 'users', PARAM], undefined, true],
    // A segment whose pieces cannot match a `/` of their own is a pattern step, ended at the segment's end.
    ['/user/:id(\\d+)', ['', 'user', pattern('(?:/(\\d+))')], undefined, true],
    ['/x/:id([a-z]+)', ['', 'x', pattern('(?:/([a-z]+))')], undefined, true],
    ['/x/:id([^/]+)/y', ['', 'x', pattern('(?:/([^/]+))'), 'y'], undefined, true],
    ['/x(a|b)', ['', pattern('/x(a|b)')], undefined, true],
    ['/(a|b)/y', ['', pattern('/(?:a|b)'), 'y'], undefined, false],
    // A capture that can take a `/`, or a `/` that is optional, leaves the rest to the tail.
    ['/x/:id([^a]+)', ['', 'x'], '(?:/([^a]+))/?(?=\\/|$)', true],
    ['/x/:id(\\D+)', ['', 'x'], '(?:/(\\D+))/?(?=\\/|$)', true],
    ['/x/:id([!-~]+)', ['', 'x'], '(?:/([!-~]+))/?(?=\\/|$)', true],
    ['/x/a/?b', ['', 'x'], '/a/?b/?(?=\\/|$)', false],
    ['/x/(a/b)', ['', 'x'], '/(?:a/b)/?(?=\\/|$)', false],
    ['/static/*', ['', 'static'], '/(.*)/?(?=\\/|$)', true],
    ['/x/:id*', ['', 'x'], '(?:/([^/]+?)((?:[/].+?)?))/?(?=\\/|$)', true],
    ['/:id', ['', PARAM], undefined, true],
    ['/:id/q1', ['', PARAM, 'q1'], undefined, true],
    ['/users/:id/', ['', 'users', PARAM], '/?(?=\\/|$)', true],
    ['*', [], '(.*)/?(?=\\/|$)', true],
    [':id', [], '(?:([^/]+?))/?(?=\\/|$)', true],
    // A quantifier makes its literal a pattern, which ends the prefix before that segment.
    ['/ab?cd', ['', pattern('/ab?cd')], undefined, false],
    ['/a/b+', ['', 'a', pattern('/b+')], undefined, false],
    ['/ab(cd)?e', ['', pattern('/ab(cd)?e')], undefined, true],
    ['/file.:ext?', ['', pattern('/file(?:\\.([^/\\.]+?))?')], undefined, true],
    // Text before a parameter that does not follow a `/` is excluded from it, as in Express.
    ['/a/b-:v', ['', 'a', pattern('/b-(?:((?:(?!/|/a/b-).)+?))')], undefined, true],
    // Express 4's quirk: `/(.*)` needs a literal `.` after the slash.
    ['/(.*)', [''], '/(?:\\.(.*))/?(?=\\/|$)', true],
    ['/x/:id(.*)', ['', 'x'], '(?:/(.(.*)))/?(?=\\/|$)', true],
    // Matching is case-sensitive, so non-ASCII segments are indexed like any other.
    ['/é/x', ['', 'é', 'x'], undefined, false],
    ['/x/é', ['', 'x', 'é'], undefined, false],
  ])('compiles %j to steps %j and tail %j (captures: %s)', (path, steps, tail, hasCaptures) => {
    expect(compileExpress4Path(path)).toEqual({
      path,
      syntax: 'express-4',
      branches: [{ steps: toSteps(steps), tail }],
      source: expect.any(String),
      hasCaptures,
    });
  });

  it('compiles a plain optional parameter to a branch with it and one without', () => {
    expect(compileExpress4Path('/users/:id?/posts').branches).toEqual([
      { steps: toSteps(['', 'users', PARAM, 'posts']) },
      { steps: toSteps(['', 'users', 'posts']) },
    ]);
    expect(compileExpress4Path('/user/:id(\\d+)?/x').branches).toEqual([
      { steps: [...toSteps(['', 'user']), pattern('(?:/(\\d+))'), ...toSteps(['x'])] },
      { steps: toSteps(['', 'user', 'x']) },
    ]);
    // The whole expression, whose first match's captures are decoded, keeps the parameter optional.
    expect(compileExpress4Path('/users/:id?').source).toBe('^/users(?:/([^/]+?))?/?(?=\\/|$)');
  });

  it.each<[string, string, number]>([
    // Regular expression operators outside parentheses
    ['/a[b]', "'[' is a regular expression operator; escape it as '\\[' to match it literally", 2],
    ['/a]', "']' is a regular expression operator; escape it as '\\]' to match it literally", 2],
    ['/a{2}', "'{' is a regular expression operator; escape it as '\\{' to match it literally", 2],
    ['/a}', "'}' is a regular expression operator; escape it as '\\}' to match it literally", 2],
    ['/^a', "'^' is a regular expression operator; escape it as '\\^' to match it literally", 1],
    ['/a$', "'$' is a regular expression operator; escape it as '\\$' to match it literally", 2],
    ['/a|b', "'|' is a regular expression operator; escape it as '\\|' to match it literally", 2],
    // Control characters and escapes
    ['/a\x01', 'control characters are not accepted', 2],
    ['/a\x7f/b', 'control characters are not accepted', 2],
    ['/a\\d', "'\\' must escape a punctuation character", 2],
    ['/a\\', "'\\' must escape a punctuation character", 2],
    // Back-references, lookarounds and named groups in a pattern
    ['/x/:id(a\\1)', "unsupported escape '\\1' in a pattern", 8],
    ['/x/:id(\\k)', "unsupported escape '\\k' in a pattern", 7],
    ['/x/:id((?=a)b)', 'lookarounds and named groups are not accepted in a pattern', 7],
    ['/x/:id((?!a)b)', 'lookarounds and named groups are not accepted in a pattern', 7],
    ['/x/:id((?<=a)b)', 'lookarounds and named groups are not accepted in a pattern', 7],
    ['/x/:id((?<n>a))', 'lookarounds and named groups are not accepted in a pattern', 7],
    // Nested quantifiers
    ['/x(a+)+', 'a repeated group may not repeat inside (nested quantifier)', 6],
    ['/x/:id(b*+)', 'a repeated group may not repeat inside (nested quantifier)', 12],
    ['/x/:id(b*{2})', 'a repeated group may not repeat inside (nested quantifier)', 12],
    // More than one unbounded repetition
    [
      '/a/*/b/*',
      'only one unbounded repetition (*, +, {n,} or a * parameter) is accepted per path; use the path-to-regexp 8 form /*name',
      7,
    ],
    [
      '/a+/b+',
      'only one unbounded repetition (*, +, {n,} or a * parameter) is accepted per path; use the path-to-regexp 8 form /*name',
      5,
    ],
    [
      '/x/:id(a{2,})/*',
      'only one unbounded repetition (*, +, {n,} or a * parameter) is accepted per path; use the path-to-regexp 8 form /*name',
      14,
    ],
    [
      '/x/:id(\\d+)-a+',
      'only one unbounded repetition (*, +, {n,} or a * parameter) is accepted per path; use the path-to-regexp 8 form /*name',
      13,
    ],
    // An unbounded repetition next to a parameter in one segment
    ['/x/:id-a+', 'an unbounded repetition cannot share a segment with another parameter', 8],
    // Two parameters with no text between them
    ['/x/:a:b', 'two parameters need text between them', 5],
    ['/x/:a*:b', 'two parameters need text between them', 6],
    ['/x/:a(\\d+):b', 'two parameters need text between them', 10],
    // Quantifiers with nothing to repeat
    ['/x/:id+', "'+' cannot follow a parameter here", 6],
    ['/x??', "'?' does not follow anything it could repeat", 3],
    ['/x(?=a)', "'?' does not follow anything it could repeat", 3],
    ['/x/:id(a++)', "'+' does not follow anything it could repeat", 9],
    ['/x/:id(a{x})', "expected a quantifier '{n}', '{n,}' or '{n,m}'", 8],
    // Groups and classes
    ['/a(b', "unbalanced '('", 2],
    ['/a)', "unbalanced ')'", 2],
    ['/x/:id((a)', "unbalanced '('", 9],
    ['/x(a(b))', 'groups cannot be nested', 4],
    ['/x/:id([a-z)', 'unterminated character class', 7],
  ])('refuses %j: %s (at %i)', (path, message, position) => {
    let thrown: unknown;
    try {
      compileExpress4Path(path);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(PolicyPathSyntaxError);
    expect(thrown).toMatchObject({ name: 'PolicyPathSyntaxError', message, position });
  });

  it.each<[string, string, boolean]>([
    ['/health', '/health', true],
    ['/health', '/HEALTH/x', false],
    ['/API/V1', '/API/V1/z', true],
    ['/health', '/healthz', false],
    ['/health', '/health.json', false],
    ['/health/', '/health', true],
    ['/users/:id', '/users/42', true],
    ['/users/:id', '/users', false],
    ['/users/:id?', '/users', true],
    ['/user/:id(\\d+)', '/user/abc', false],
    ['/static/*', '/static/a/b', true],
    ['/static/*', '/static', false],
    ['/ab?cd', '/acd', true],
    ['/ab?cd', '/abbcd', false],
    ['/ab+cd', '/abbbcd', true],
    ['/file.:ext?', '/file.txt', true],
    ['/file.:ext?', '/file.tar.gz', false],
    ['/file.:ext?', '/files/a', false],
    ['/a/b-:v', '/a/b-1', true],
    ['/a/b-:v', '/a/b-', false],
    ['/(.*)', '/x/y', false],
    ['/(.*)', '/.x/y', true],
    ['/é/x', '/É/x', false],
    ['/key', '/\u212Aey', false],
    ['*', '', true],
  ])('with %j covers %j: %s, as Express 4 does', (policy, path, expected) => {
    expect(covers(policy, path)).toBe(expected);
    expect(expressCovers(policy, path)).toBe(expected);
  });

  it.each(ACCEPTED)('covers the same sample requests as Express 4 with %j', policy => {
    const coveredByExpress = REQUESTS.filter(path => expressCovers(policy, path));

    expect(REQUESTS.filter(path => covers(policy, path))).toEqual(coveredByExpress);
  });
});
