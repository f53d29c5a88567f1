import { pathToRegexp } from 'path-to-regexp';
import { PolicyPathSyntaxError } from '../../errors';
import { compileUpstreamPath } from '../../authPolicy/compileUpstreamPath';
import { coversCompiledPath } from '../helpers/coversCompiledPath';
import { PARAM, WILDCARD, toSteps } from '../helpers/segmentSteps';
import type { SegmentStep } from '../../authPolicy/types';

/**
 * Upstream's credentials barrier, `pathToRegexp(path, { end: false }).regexp` tested against `req.path`, made
 * case-sensitive as ours is.
 */
const upstreamCovers = (policy: string, path: string) =>
  pathToRegexp(policy, { end: false, sensitive: true }).regexp.test(path);

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
  '/docs{/a}{-b}', '/a/b{-:c}', '/{/a}', '/x{/}', '/é/x', '/x/é', '/key', 'x/y', '/*p/x', '/x/*p/y',
  '/*p/x/*q', '/x/*p.json', '/:a-:b/y', '{/:a}/x', '/x/:a.:b',
]; // prettier-ignore

describe('compileUpstreamPath', () => {
  const PATTERN = (source: string): SegmentStep => ({ kind: 'pattern', source });
  it.each<[string, Array<Array<string | SegmentStep>>, boolean]>([
    // path, the steps of each branch, hasCaptures
    ['/health', [['', 'health']], false],
    ['/API/V1', [['', 'API', 'V1']], false],
    ['/a.b/c', [['', 'a.b', 'c']], false],
    ['/a\\:b/c', [['', 'a:b', 'c']], false],
    // Unlike Express 4, path-to-regexp 8 needs the trailing slash: it is a segment of its own.
    ['/health/', [['', 'health', '']], false],
    ['', [[]], false],
    ['x/y', [['x', 'y']], false],
    ['/users/:id', [['', 'users', PARAM]], true],
    ['/files/*path', [['', 'files', WILDCARD]], true],
    ['/:id', [['', PARAM]], true],
    ['/*path/edit', [['', WILDCARD, 'edit']], true],
    // One branch per combination of optional groups.
    [
      '/docs{/:page}',
      [
        ['', 'docs', PARAM],
        ['', 'docs'],
      ],
      true,
    ],
    [
      '/docs{/:page}/raw',
      [
        ['', 'docs', PARAM, 'raw'],
        ['', 'docs', 'raw'],
      ],
      true,
    ],
    [
      '/docs{/raw}',
      [
        ['', 'docs', 'raw'],
        ['', 'docs'],
      ],
      false,
    ],
    [
      '/{/a}',
      [
        ['', '', 'a'],
        ['', ''],
      ],
      false,
    ],
    [
      '/docs{/a}{-b}',
      [
        ['', 'docs', 'a-b'],
        ['', 'docs', 'a'],
        ['', 'docs-b'],
        ['', 'docs'],
      ],
      false,
    ],
    // A segment mixing text and parameters is matched by its own expression.
    [
      '/docs{-:v}',
      [
        ['', PATTERN('(?:\\/docs-([^\\/]+))(?=\\/|$)')],
        ['', 'docs'],
      ],
      true,
    ],
    ['/:a-:b/q', [['', PATTERN('(?:\\/([^\\/]+)-([^\\/-]+|-))(?=\\/|$)'), 'q']], true],
    ['/é/x', [['', 'é', 'x']], false],
  ])('compiles %j to the branches %j (captures: %s)', (path, branches, hasCaptures) => {
    expect(compileUpstreamPath(path)).toEqual({
      path,
      syntax: 'path-to-regexp-8',
      branches: branches.map(steps => ({ steps: toSteps(steps), tail: undefined })),
      source: pathToRegexp(path, { end: false, sensitive: true }).regexp.source,
      hasCaptures,
    });
  });

  it.each<[string, Array<string | SegmentStep>, string]>([
    // What cannot be said in whole segments is left to path-to-regexp's own expression, from a '/'.
    ['/x/*p.json', ['', 'x'], '(?:\\/([^]+)\\.json)(?:\\/$)?(?=\\/|$)'],
    // A wildcard followed by another is read by path-to-regexp, which bounds the second by the first.
    ['/*p/x/*q', [''], '(?:\\/([^]+)\\/x\\/((?:(?!\\/x\\/)[^])+|[^\\/]+))(?:\\/$)?(?=\\/|$)'],
  ])('compiles %j to the steps %j and the tail %j', (path, steps, tail) => {
    expect(compileUpstreamPath(path).branches).toEqual([{ steps: toSteps(steps), tail }]);
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
    ['/health', '/HEALTH/x', false],
    ['/API/V1', '/API/V1/z', true],
    ['/health', '/healthz', false],
    ['/health/', '/health', false],
    ['/users/:id', '/users', false],
    ['/docs{/:page}', '/docs', true],
    ['/docs{/:page}', '/DOCS/intro', false],
    ['/docs{/:page}', '/docs/intro', true],
    ['/docs{/:page}', '/docsy', false],
    ['/docs{/:page}/raw', '/docs/raw', true],
    ['/docs{/:page}/raw', '/docs/intro/raw', true],
    ['/docs{/:page}/raw', '/docsraw', false],
    ['/docs{/:a}{/:b}/raw', '/docs/x/y/raw', true],
    ['/docs{/:a}{/:b}/raw', '/docs/x/y/z/raw', false],
    ['/docs{-:v}', '/docs-2', true],
    ['/docs{-:v}', '/docs', true],
    ['/docs{-:v}', '/docs2', false],
    ['/é/x', '/É/x', false],
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
