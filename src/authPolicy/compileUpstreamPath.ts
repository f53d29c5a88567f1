import { PathError, TokenData, parse, pathToRegexp } from 'path-to-regexp';
import type { Token } from 'path-to-regexp';
import { PolicyPathSyntaxError } from './PolicyPathSyntaxError';
import { splitLiteralPrefix } from './splitLiteralPrefix';
import type { CompiledPolicyPath } from './types';

/** path-to-regexp 8 reports positions as `at index N` in its messages. */
const INDEX_IN_MESSAGE = /at index (\d+)/;

/** Whether a token list can only start with `/`: a text token that does, or a group whose content does. */
function startsWithSlash(tokens: readonly Token[]): boolean {
  const first = tokens[0];
  if (first?.type === 'text') {
    return first.value.startsWith('/');
  }
  return first?.type === 'group' && startsWithSlash(first.tokens);
}

/**
 * Whether a segment boundary, or the end of the path, follows the leading literal whatever optional groups
 * are taken: nothing follows it, or what follows starts with `/`, or an optional group that starts with `/` and
 * is itself followed by nothing or by `/` (`/docs{/:page}`, `/docs{/:page}/raw`).
 */
function literalEndsAtBoundary(after: readonly Token[]): boolean {
  if (after.length === 0 || (after[0].type === 'text' && after[0].value.startsWith('/'))) {
    return true;
  }
  const [first, ...rest] = after;
  return first.type === 'group' && startsWithSlash(first.tokens) && literalEndsAtBoundary(rest);
}

/**
 * Compiles a path in path-to-regexp 8 syntax exactly as upstream's credentials barrier reads it.
 *
 * @remarks
 * Upstream tests `pathToRegexp(path, { end: false }).regexp` against `req.path`. This keeps that regular
 * expression: the literal segments the path starts with go to the trie and path-to-regexp generates the rest from
 * the remaining tokens, which yields the same source as the tail of the whole-path expression because a tail
 * always starts at a `/` (path-to-regexp only looks back within a segment).
 *
 * @param path - The policy path.
 * @throws {@link PolicyPathSyntaxError} when path-to-regexp 8 cannot read the path.
 * @internal
 */
export function compileUpstreamPath(path: string): CompiledPolicyPath {
  let tokens: Token[];
  try {
    tokens = parse(path).tokens;
    // Generates once for the whole path so that errors found only while generating (too many combinations,
    // missing text between parameters) surface here.
    pathToRegexp(path, { end: false });
  } catch (error) {
    if (error instanceof PathError) {
      const found = INDEX_IN_MESSAGE.exec(error.message);
      throw new PolicyPathSyntaxError(
        error.message.replace(/; visit .*$/, ''),
        found ? Number(found[1]) : 0,
      );
    }
    throw error;
  }

  const first = tokens[0];
  const literal = first?.type === 'text' ? first.value : '';
  const { segments, length } = splitLiteralPrefix(
    literal,
    literal !== '' && literalEndsAtBoundary(tokens.slice(1)),
  );
  const rest: Token[] = tokens.slice(literal === '' ? 0 : 1);
  if (length < literal.length) {
    rest.unshift({ type: 'text', value: literal.slice(length) });
  }
  if (rest.length === 0) {
    return {
      path,
      syntax: 'path-to-regexp-8',
      prefix: segments,
      tail: undefined,
      hasCaptures: false,
    };
  }
  const { regexp, keys } = pathToRegexp(new TokenData(rest, path), { end: false });
  return {
    path,
    syntax: 'path-to-regexp-8',
    prefix: segments,
    // Drops the leading `^`: the matcher runs the tail sticky at the end of the prefix.
    tail: regexp.source.slice(1),
    hasCaptures: keys.length > 0,
  };
}
