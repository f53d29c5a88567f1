import { PolicyPathSyntaxError } from '../errors';
import { compileExpress4Branch, expandOptionalSegments } from './express4/compileExpress4Branch';
import { parseExpress4Path } from './express4/parseExpress4Path';
import { tokenizeExpress4Path } from './express4/tokenizeExpress4Path';
import type { CompiledPolicyPath } from './types';

/**
 * Compiles a path that only Express 4 understands into the expression `router.use(path)` would match with.
 *
 * @remarks
 * The path is split into tokens by the forms of `EXPRESS4_FORMS` (see `express4/express4Forms.ts`), and a
 * grammar turns them into the same regular expression as Express 4.22's bundled path-to-regexp 0.1 with
 * `end: false`, `strict: false` and `sensitive: true`, quirks included (for example `/(.*)` requires a literal `.`
 * after the slash, and text before a parameter that does not follow a `/` is excluded from it), so that a policy
 * covers exactly what a case-sensitive Express 4 router hands to a middleware mounted on that path. On top of
 * Express it rejects what would make matching slow or unanchored:
 *
 * - the operators `[ ] { } ^ $ |` outside parentheses, and control characters;
 * - back-references, lookarounds and nested quantifiers in a pattern;
 * - more than one unbounded repetition (`*`, `+`, `{n,}`, a `*` parameter) in one path;
 * - an unbounded repetition in the same segment as a parameter, and two parameters with no text between them.
 *
 * With these limits every accepted path matches in time linear in the request path's length.
 *
 * @param path - The policy path.
 * @throws {@link PolicyPathSyntaxError} with the position of the first problem.
 * @internal
 */
export function compileExpress4Path(path: string): CompiledPolicyPath {
  const { pieces, hasCaptures } = parseExpress4Path(path, tokenizeExpress4Path(path));
  const body = pieces.map(piece => piece.source).join('');
  // Express 4 makes a trailing `/` optional and matches up to a segment boundary.
  const suffix = (body.endsWith('/') ? '?' : '/?') + '(?=\\/|$)';
  const source = `^${body}${suffix}`;
  try {
    new RegExp(source);
  } catch (error) {
    throw new PolicyPathSyntaxError(
      `Express 4 would build an invalid expression (${(error as Error).message})`,
      0,
    );
  }
  return {
    path,
    syntax: 'express-4',
    branches: expandOptionalSegments(pieces).map(branch => compileExpress4Branch(branch, suffix)),
    source,
    hasCaptures,
  };
}
