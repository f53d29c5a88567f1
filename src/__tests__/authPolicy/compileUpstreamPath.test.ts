import { pathToRegexp } from 'path-to-regexp';
import { PolicyPathSyntaxError } from '../../authPolicy/PolicyPathSyntaxError';
import { compileUpstreamPath } from '../../authPolicy/compileUpstreamPath';
import { coversCompiledPath } from '../helpers/coversCompiledPath';

/** Upstream's credentials barrier: `pathToRegexp(path, { end: false }).regexp` tested against `req.path`. */
const upstreamCovers = (policy: string, path: string) =>
  pathToRegexp(policy, { end: false }).regexp.test(path);

const covers = (policy: string, path: string) =>
  coversCompiledPath(compileUpstreamPath(policy), path);

/** Request paths tried against every policy path. */
const REQUESTS = [
  '', '/', '//', '/x', '/x/', '/x/y', '/x/1-2', '/x/1-', '/x/a/b/y', '/x/y/y', '/xy', '/health', '/health/',
  '/HEALTH/x', '/health//x', '/healthz', '/users', '/users/', '/users/42', '/USERS/42/posts', '/users42',
  '/files', '/files/a/b/c', '/docs', '/docs/', '/DOCS/intro', '/docs/intro/more', '/docsy', '/docs-2', '/docs-',
  '/docs2', '/docs/raw', '/docs/intro/raw', '/docs/x/y/raw', '/docs/x/y/z/raw', '/docsraw', '/docs/a-b',
  '/docs/a', '/docs-b', '/docs/b', '/docs/b/c', '/docs/a/b/c', '/docsx', '/docs/1x', '/file.json', '/file.',
  '/file', '/a/b-1', '/a/b', '/a/b-', '/a:b/c', '/a.b/c', '/api/v1', '/API/V1/z', '/é/x', '/É/x', '/x/é',
  '/x/É', '/key', '/\u212Aey', '//a', '/a', '/a/b/c',
]; // prettier-ignore

/** Policy paths in path-to-regexp 8 syntax. */
const POLICIES = [
  '', '/', '/x', '/health', '/health/', '/API/V1', '/a.b/c', '/a\\:b/c', '/users/:id', '/files/*path',
  '/x/*rest/y', '/:id', '/x/:a-:b', '/:a.:b', '/users{/:id}', '/docs{/:page}', '/docs{/:page}/raw',
  '/docs{/:a}{/:b}', '/docs{/:a}{/:b}/raw', '/docs{{/:a}}/raw', '/docs{/a}/b{/c}', '/docs{-:v}', '/docs{/:page}x',
  '/docs{/a}{-b}', '/a/b{-:c}', '/{/a}', '/x{/}', '/é/x', '/x/é', '/key', 'x/y',
]; // prettier-ignore

describe('compileUpstreamPath', () => {
  it.each<[string, string[], string | undefined, boolean]>([
    // path, prefix, tail, hasCaptures
    ['/health', ['', 'health'], undefined, false],
    ['/API/V1', ['', 'api', 'v1'], undefined, false],
    ['/a.b/c', ['', 'a.b', 'c'], undefined, false],
    ['/a\\:b/c', ['', 'a:b', 'c'], undefined, false],
    // Unlike Express 4, path-to-regexp 8 needs the trailing slash: it is a segment of its own.
    ['/health/', ['', 'health', ''], undefined, false],
    ['', [], undefined, false],
    ['x/y', ['x', 'y'], undefined, false],
    ['/users/:id', ['', 'users'], '(?:\\/([^\\/]+))(?:\\/$)?(?=\\/|$)', true],
    ['/files/*path', ['', 'files'], '(?:\\/([^]+))(?:\\/$)?(?=\\/|$)', true],
    ['/:id', [''], '(?:\\/([^\\/]+))(?:\\/$)?(?=\\/|$)', true],
    // Optional groups that start with '/' leave the literal before them whole in the prefix.
    ['/docs{/:page}', ['', 'docs'], '(?:\\/([^\\/]+)|)(?:\\/$)?(?=\\/|$)', true],
    ['/docs{/:page}/raw', ['', 'docs'], '(?:\\/([^\\/]+)\\/raw|\\/raw)(?:\\/$)?(?=\\/|$)', true],
    [
      '/docs{/:a}{/:b}/raw',
      ['', 'docs'],
      '(?:\\/([^\\/]+)\\/([^\\/]+)\\/raw|\\/([^\\/]+)\\/raw|\\/([^\\/]+)\\/raw|\\/raw)(?:\\/$)?(?=\\/|$)',
      true,
    ],
    [
      '/docs{{/:a}}/raw',
      ['', 'docs'],
      '(?:\\/([^\\/]+)\\/raw|\\/raw|\\/raw)(?:\\/$)?(?=\\/|$)',
      true,
    ],
    ['/docs{/raw}', ['', 'docs'], '(?:\\/raw|)(?:\\/$)?(?=\\/|$)', false],
    ['/{/a}', ['', ''], '(?:\\/a|)(?:\\/$)?(?=\\/|$)', false],
    // Groups that do not start with '/', or are followed by text that does not, keep the literal in the tail.
    ['/docs{-:v}', [''], '(?:\\/docs-([^\\/]+)|\\/docs)(?:\\/$)?(?=\\/|$)', true],
    ['/a/b{-:c}', ['', 'a'], '(?:\\/b-([^\\/]+)|\\/b)(?:\\/$)?(?=\\/|$)', true],
    ['/docs{/:page}x', [''], '(?:\\/docs\\/([^\\/]+)x|\\/docsx)(?:\\/$)?(?=\\/|$)', true],
    [
      '/docs{/a}{-b}',
      [''],
      '(?:\\/docs\\/a-b|\\/docs\\/a|\\/docs-b|\\/docs)(?:\\/$)?(?=\\/|$)',
      false,
    ],
    // A non-ASCII segment ends the prefix.
    ['/é/x', [''], '(?:\\/é\\/x)(?:\\/$)?(?=\\/|$)', false],
    ['/x/é', ['', 'x'], '(?:\\/é)(?:\\/$)?(?=\\/|$)', false],
  ])('compiles %j to prefix %j and tail %j (captures: %s)', (path, prefix, tail, hasCaptures) => {
    expect(compileUpstreamPath(path)).toEqual({
      path,
      syntax: 'path-to-regexp-8',
      prefix,
      tail,
      hasCaptures,
    });
  });

  it.each<[string, string, number]>([
    ['/a(', 'Unexpected ( at index 2: /a(', 2],
    ['/a/]', 'Unexpected ] at index 3: /a/]', 3],
    ['/a/:b}', 'Unexpected } at index 5: /a/:b}', 5],
    ['/a/{b', 'Unexpected end at index 5, expected }: /a/{b', 5],
    ['/a/:', 'Missing parameter name at index 4: /a/:', 4],
    ['/a/*', 'Missing parameter name at index 4: /a/*', 4],
    ['/a/:id?', 'Unexpected ? at index 6: /a/:id?', 6],
    // Found while generating: the message names no index.
    ['/a/:b:c', 'Missing text before "c" param: /a/:b:c', 0],
    [
      '{/a}{/b}{/c}{/d}{/e}{/f}{/g}{/h}{/i}{/j}{/k}{/l}{/m}{/n}{/o}{/p}',
      'Too many path combinations: {/a}{/b}{/c}{/d}{/e}{/f}{/g}{/h}{/i}{/j}{/k}{/l}{/m}{/n}{/o}{/p}',
      0,
    ],
  ])(
    'turns the PathError for %j into a PolicyPathSyntaxError %j at %i',
    (path, message, position) => {
      let thrown: unknown;
      try {
        compileUpstreamPath(path);
      } catch (error) {
        thrown = error;
      }

      expect(thrown).toBeInstanceOf(PolicyPathSyntaxError);
      expect(thrown).toMatchObject({ name: 'PolicyPathSyntaxError', message, position });
    },
  );

  it('rethrows errors other than PathError unchanged', () => {
    expect(() => compileUpstreamPath(undefined as unknown as string)).toThrow(TypeError);
  });

  it.each<[string, string, boolean]>([
    ['/health', '/HEALTH/x', true],
    ['/health', '/healthz', false],
    ['/health/', '/health', false],
    ['/users/:id', '/users', false],
    ['/docs{/:page}', '/docs', true],
    ['/docs{/:page}', '/DOCS/intro', true],
    ['/docs{/:page}', '/docsy', false],
    ['/docs{/:page}/raw', '/docs/raw', true],
    ['/docs{/:page}/raw', '/docs/intro/raw', true],
    ['/docs{/:page}/raw', '/docsraw', false],
    ['/docs{/:a}{/:b}/raw', '/docs/x/y/raw', true],
    ['/docs{/:a}{/:b}/raw', '/docs/x/y/z/raw', false],
    ['/docs{-:v}', '/docs-2', true],
    ['/docs{-:v}', '/docs', true],
    ['/docs{-:v}', '/docs2', false],
    ['/é/x', '/É/x', true],
    ['/key', '/\u212Aey', false],
  ])('with %j covers %j: %s, as upstream does', (policy, path, expected) => {
    expect(covers(policy, path)).toBe(expected);
    expect(upstreamCovers(policy, path)).toBe(expected);
  });

  it.each(POLICIES)('covers the same sample requests as upstream with %j', policy => {
    const coveredUpstream = REQUESTS.filter(path => upstreamCovers(policy, path));

    expect(REQUESTS.filter(path => covers(policy, path))).toEqual(coveredUpstream);
  });
});
