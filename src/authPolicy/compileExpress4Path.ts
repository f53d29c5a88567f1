import { PolicyPathSyntaxError } from './PolicyPathSyntaxError';
import { compileExpress4Branch } from './express4/compileExpress4Branch';
import type { Express4Piece } from './express4/compileExpress4Branch';
import type { CompiledPolicyPath } from './types';

/** Characters of a parameter name, as Express 4's path-to-regexp 0.1 reads them (`\w`). */
const NAME_CHAR = /[A-Za-z0-9_]/;
/** Characters Express 4 would pass to the regular expression as operators we do not accept outside a pattern. */
const REJECTED_OPERATORS = new Set(['[', ']', '{', '}', '^', '$', '|']);
/** Control characters have no place in a route and would change how patterns read. */
// eslint-disable-next-line no-control-regex -- the range is the point: it classifies raw characters
const CONTROL_CHAR = /[\x00-\x1f\x7f]/;
/** Escapes allowed inside a custom pattern besides escaped punctuation. */
const CLASS_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S']);

type Piece = Express4Piece;

/** What one custom or raw group contributes to the repetition budget. */
interface PatternInfo {
  unbounded: number;
  hasQuantifier: boolean;
}

const fail = (message: string, position: number): never => {
  throw new PolicyPathSyntaxError(message, position);
};

/**
 * Checks a regular expression fragment written by the policy author and counts its repetitions.
 *
 * @remarks
 * Accepts literal characters, `.`, escaped punctuation, `\d \w \s` and their negations, character classes,
 * `|`, non-capturing or capturing groups and the quantifiers `? * + {n} {n,} {n,m}` (optionally lazy). Rejects
 * back-references, lookarounds, named groups and a quantifier on a group that already repeats, the shapes that
 * make a backtracking engine slow or change what other groups mean.
 */
function inspectPattern(pattern: string, offset: number): PatternInfo {
  let unbounded = 0;
  let hasQuantifier = false;
  // For each open group: whether something inside it repeats.
  const groups: boolean[] = [];
  let lastAtomRepeats: boolean | undefined;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined || !(CLASS_ESCAPES.has(next) || /[^A-Za-z0-9]/.test(next))) {
        fail(`unsupported escape '\\${next ?? ''}' in a pattern`, offset + i);
      }
      i++;
      lastAtomRepeats = false;
    } else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0 || pattern.slice(i + 1, close).includes('[')) {
        fail('unterminated character class', offset + i);
      }
      i = close;
      lastAtomRepeats = false;
    } else if (c === '(') {
      if (pattern[i + 1] === '?' && pattern[i + 2] !== ':') {
        fail('lookarounds and named groups are not accepted in a pattern', offset + i);
      }
      if (pattern[i + 1] === '?') {
        i += 2;
      }
      groups.push(false);
      lastAtomRepeats = undefined;
    } else if (c === ')') {
      const repeats = groups.pop();
      if (repeats === undefined) {
        fail("unbalanced ')'", offset + i);
      }
      lastAtomRepeats = repeats;
    } else if (c === '?' || c === '*' || c === '+' || c === '{') {
      if (lastAtomRepeats === undefined) {
        fail(`'${c}' does not follow anything it could repeat`, offset + i);
      }
      let end = i;
      if (c === '{') {
        const quantifier = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
        if (!quantifier) {
          fail("expected a quantifier '{n}', '{n,}' or '{n,m}'", offset + i);
        }
        end = i + quantifier![0].length - 1;
        if (quantifier![2] !== undefined && quantifier![3] === '') {
          unbounded++;
        }
      } else if (c !== '?') {
        unbounded++;
      }
      if (lastAtomRepeats && c !== '?') {
        fail('a repeated group may not repeat inside (nested quantifier)', offset + i);
      }
      if (pattern[end + 1] === '?') {
        end++;
      }
      hasQuantifier = true;
      if (groups.length > 0) {
        groups[groups.length - 1] = true;
      }
      lastAtomRepeats = undefined;
      i = end;
    } else if (c === '|') {
      lastAtomRepeats = undefined;
    } else {
      lastAtomRepeats = false;
    }
  }
  if (groups.length > 0) {
    fail("unbalanced '('", offset + pattern.length);
  }
  return { unbounded, hasQuantifier };
}

/**
 * Reads a parameter token at `start` the way Express 4 does: an optional `/`, an optional `.`, `:name`, an
 * optional `(pattern)` up to the first `)`, an optional `*` and an optional `?`.
 */
function readParam(path: string, start: number) {
  let i = start;
  const slash = path[i] === '/';
  if (slash) i++;
  const format = path[i] === '.';
  if (format) i++;
  if (path[i] !== ':' || !NAME_CHAR.test(path[i + 1] ?? '')) {
    return undefined;
  }
  i++;
  while (i < path.length && NAME_CHAR.test(path[i])) i++;
  let pattern: string | undefined;
  let patternStart = 0;
  if (path[i] === '(') {
    const close = path.indexOf(')', i + 1);
    if (close >= 0) {
      pattern = path.slice(i, close + 1);
      patternStart = i;
      i = close + 1;
    }
  }
  const star = path[i] === '*';
  if (star) i++;
  const optional = path[i] === '?';
  if (optional) i++;
  return { slash, format, pattern, patternStart, star, optional, end: i };
}

/**
 * Compiles a path that only Express 4 understands into the expression `router.use(path)` would match with.
 *
 * @remarks
 * Generates the same regular expression as Express 4.22's bundled path-to-regexp 0.1 with `end: false`,
 * `strict: false` and `sensitive: true`, quirks included (for example `/(.*)` requires a literal `.` after the
 * slash, and text before a parameter that does not follow a `/` is excluded from it), so that a policy covers
 * exactly what an Express 4 router hands to a middleware mounted on that path. On top of Express it rejects what
 * would make matching slow or unanchored:
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
  const control = CONTROL_CHAR.exec(path);
  if (control) {
    fail('control characters are not accepted', control.index);
  }

  const pieces: Piece[] = [];
  // Express 4's generator tracks the text written since the last parameter (`backtrack`) and where its previous
  // token ended (`consumed`); both steer how a parameter that does not follow a `/` is bounded. The odd updates
  // on `\x` and `.` mirror Express so that generated expressions are identical.
  let backtrack = '';
  let consumed = 0;
  let depth = 0;
  let groupStart = 0;
  let segment = 0;
  let unbounded = 0;
  let lastToken: 'literal' | 'param' | 'group' | 'quantifier' | 'none' = 'none';
  let lastGroupRepeats = false;
  // Parameters per segment, and each unbounded repetition's segment, position and whether a parameter owns it.
  const paramsPerSegment = new Map<number, number>();
  const unboundedAt: Array<{ segment: number; position: number; owned: boolean }> = [];
  let hasCaptures = false;

  const countUnbounded = (count: number, position: number, owned: boolean) => {
    if (count === 0) return;
    unbounded += count;
    unboundedAt.push({ segment, position, owned });
    if (unbounded > 1) {
      fail(
        'only one unbounded repetition (*, +, {n,} or a * parameter) is accepted per path; use the path-to-regexp 8 form /*name',
        position,
      );
    }
  };

  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === '\\') {
      const next = path[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) {
        fail(`'\\' must escape a punctuation character`, i);
      }
      const source = path.slice(i, i + 2);
      pieces.push({ source, literal: next });
      backtrack += source;
      consumed += 2;
      i += 2;
      lastToken = 'literal';
      continue;
    }

    const param = readParam(path, i);
    if (param) {
      if (lastToken === 'param' && !param.slash && !param.format) {
        fail('two parameters need text between them', i);
      }
      if (param.slash) segment++;
      paramsPerSegment.set(segment, (paramsPerSegment.get(segment) ?? 0) + 1);
      if (param.slash || param.format) {
        backtrack = '';
      } else {
        backtrack += path.slice(consumed, i);
      }
      consumed = param.end;
      const dot = param.format ? '\\.' : '';
      let capture: string;
      if (param.pattern !== undefined) {
        capture = param.pattern;
        // Express 4 turns the first `*` of a pattern into `(.*)`, unless an escape comes first.
        const firstSpecial = /\\.|\*/.exec(capture);
        if (firstSpecial && firstSpecial[0] === '*') {
          capture =
            capture.slice(0, firstSpecial.index) + '(.*)' + capture.slice(firstSpecial.index + 1);
        }
        const info = inspectPattern(capture.slice(1, -1), param.patternStart + 1);
        countUnbounded(info.unbounded, param.patternStart, true);
      } else if (backtrack) {
        capture = `((?:(?!/|${backtrack}).)+?)`;
      } else {
        capture = `([^/${dot}]+?)`;
      }
      if (param.star) {
        countUnbounded(1, param.end - (param.optional ? 2 : 1), true);
      }
      const source =
        '(?:' +
        dot +
        (param.slash ? '/' : '') +
        capture +
        (param.star ? `((?:[/${dot}].+?)?)` : '') +
        ')' +
        (param.optional ? '?' : '');
      const segmentParam =
        param.slash &&
        !param.format &&
        param.pattern === undefined &&
        !param.star &&
        !param.optional;
      pieces.push({ source, segmentParam });
      hasCaptures = true;
      backtrack = '';
      i = param.end;
      lastToken = 'param';
      continue;
    }

    if (c === '.') {
      pieces.push({ source: '\\.', literal: '.' });
      backtrack += '\\.';
      consumed += 1;
      i++;
      lastToken = 'literal';
      continue;
    }
    if (c === '*') {
      backtrack = '';
      consumed = i + 1;
      pieces.push({ source: '(.*)' });
      hasCaptures = true;
      countUnbounded(1, i, false);
      if (depth > 0) lastGroupRepeats = true;
      i++;
      lastToken = 'literal';
      continue;
    }
    if (c === '/' && path[i + 1] === '(') {
      backtrack += path.slice(consumed, i) + '/';
      consumed = i + 2;
      segment++;
      pieces.push({ source: '/(?:' });
      depth++;
      groupStart = i + 1;
      lastGroupRepeats = false;
      i += 2;
      lastToken = 'none';
      continue;
    }

    if (c === '(') {
      if (depth > 0) fail('groups cannot be nested', i);
      depth++;
      groupStart = i;
      lastGroupRepeats = false;
      hasCaptures = true;
      pieces.push({ source: c });
      i++;
      lastToken = 'none';
      continue;
    }
    if (c === ')') {
      if (depth === 0) fail("unbalanced ')'", i);
      depth--;
      pieces.push({ source: c });
      i++;
      lastToken = 'group';
      continue;
    }
    if (c === '?' || c === '+') {
      if (lastToken === 'none' || lastToken === 'quantifier') {
        fail(`'${c}' does not follow anything it could repeat`, i);
      }
      if (lastToken === 'param') {
        fail(`'${c}' cannot follow a parameter here`, i);
      }
      if (lastToken === 'group' && lastGroupRepeats && c === '+') {
        fail('a repeated group may not repeat inside (nested quantifier)', i);
      }
      if (c === '+') countUnbounded(1, i, false);
      if (depth > 0) lastGroupRepeats = true;
      // The quantifier turns the previous literal into a pattern: it no longer belongs to a literal prefix.
      const previous = pieces[pieces.length - 1];
      if (previous) delete previous.literal;
      pieces.push({ source: c });
      i++;
      lastToken = 'quantifier';
      continue;
    }
    if (c === '|' && depth > 0) {
      pieces.push({ source: c });
      i++;
      lastToken = 'none';
      continue;
    }
    if (REJECTED_OPERATORS.has(c)) {
      fail(
        `'${c}' is a regular expression operator; escape it as '\\${c}' to match it literally`,
        i,
      );
    }
    if (c === '/' && depth === 0) segment++;
    pieces.push({ source: c, literal: c });
    i++;
    lastToken = 'literal';
  }
  if (depth > 0) {
    fail("unbalanced '('", groupStart);
  }
  for (const { segment: where, position, owned } of unboundedAt) {
    if ((paramsPerSegment.get(where) ?? 0) > (owned ? 1 : 0)) {
      fail('an unbounded repetition cannot share a segment with another parameter', position);
    }
  }

  const body = pieces.map(piece => piece.source).join('');
  const suffix = (body.endsWith('/') ? '?' : '/?') + '(?=\\/|$)';
  try {
    new RegExp(`^${body}${suffix}`);
  } catch (error) {
    fail(`Express 4 would build an invalid expression (${(error as Error).message})`, 0);
  }
  return {
    path,
    syntax: 'express-4',
    branches: [compileExpress4Branch(pieces, suffix)],
    source: `^${body}${suffix}`,
    hasCaptures,
  };
}
