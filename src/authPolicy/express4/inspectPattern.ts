import { PolicyPathSyntaxError } from '../../errors';

/** Escapes allowed inside a custom pattern besides escaped punctuation. */
const CLASS_ESCAPES = new Set(['d', 'D', 'w', 'W', 's', 'S']);

/** What a pattern contributes to the path's budget of unbounded repetitions. */
export interface PatternInfo {
  unbounded: number;
  hasQuantifier: boolean;
}

const fail = (message: string, position: number): never => {
  throw new PolicyPathSyntaxError(message, position);
};

/** Reads the quantifier at `i`: where it ends and whether it is unbounded. */
function readQuantifier(pattern: string, i: number, offset: number) {
  let end = i;
  let unbounded = pattern[i] === '*' || pattern[i] === '+';
  if (pattern[i] === '{') {
    const quantifier = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (!quantifier) {
      return fail("expected a quantifier '{n}', '{n,}' or '{n,m}'", offset + i);
    }
    end = i + quantifier[0].length - 1;
    unbounded = quantifier[2] !== undefined && quantifier[3] === '';
  }
  // A lazy quantifier is still one quantifier.
  return { end: pattern[end + 1] === '?' ? end + 1 : end, unbounded };
}

/**
 * Checks a regular expression fragment written by the policy author and counts its repetitions.
 *
 * @remarks
 * Accepts literal characters, `.`, escaped punctuation, `\d \w \s` and their negations, character classes,
 * `|`, non-capturing or capturing groups and the quantifiers `? * + {n} {n,} {n,m}` (optionally lazy). Rejects
 * back-references, lookarounds, named groups and a quantifier on a group that already repeats, the shapes that
 * make a backtracking engine slow or change what other groups mean.
 *
 * @param pattern - The fragment, without its parentheses.
 * @param offset - Where the fragment starts in the policy path, for error positions.
 * @internal
 */
export function inspectPattern(pattern: string, offset: number): PatternInfo {
  let unbounded = 0;
  let hasQuantifier = false;
  // For each open group: whether something inside it repeats.
  const groups: boolean[] = [];
  // Whether the last atom repeats inside; `undefined` when there is nothing a quantifier could apply to.
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
      if (pattern[i + 1] === '?') i += 2;
      groups.push(false);
      lastAtomRepeats = undefined;
    } else if (c === ')') {
      const repeats = groups.pop();
      if (repeats === undefined) fail("unbalanced ')'", offset + i);
      lastAtomRepeats = repeats;
    } else if (c === '?' || c === '*' || c === '+' || c === '{') {
      if (lastAtomRepeats === undefined) {
        fail(`'${c}' does not follow anything it could repeat`, offset + i);
      }
      const quantifier = readQuantifier(pattern, i, offset);
      if (lastAtomRepeats && c !== '?') {
        fail('a repeated group may not repeat inside (nested quantifier)', offset + i);
      }
      if (quantifier.unbounded) unbounded++;
      hasQuantifier = true;
      if (groups.length > 0) groups[groups.length - 1] = true;
      lastAtomRepeats = undefined;
      i = quantifier.end;
    } else {
      lastAtomRepeats = c === '|' ? undefined : false;
    }
  }
  if (groups.length > 0) fail("unbalanced '('", offset + pattern.length);
  return { unbounded, hasQuantifier };
}
