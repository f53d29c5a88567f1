/** Class escapes that never match `/`, and those that do. */
const NARROW_CLASSES = new Set(['d', 'w', 's']);
const WIDE_CLASSES = new Set(['D', 'W', 'S']);

/** The code of `/`, to tell whether a character range holds it. */
const SLASH = 0x2f;

/** One member of a character class: a single character, a class escape, or something not analysed. */
type ClassMember = { char: string } | { narrow: boolean } | { unknown: true };

/** Reads the class member at `i` (its escape included), the way a non-unicode JavaScript class reads it. */
function readMember(pattern: string, i: number): { member: ClassMember; end: number } {
  if (pattern[i] !== '\\') return { member: { char: pattern[i] }, end: i + 1 };
  const escaped = pattern[i + 1] ?? '';
  if (NARROW_CLASSES.has(escaped)) return { member: { narrow: true }, end: i + 2 };
  if (WIDE_CLASSES.has(escaped)) return { member: { narrow: false }, end: i + 2 };
  if (/^[^A-Za-z0-9]$/.test(escaped)) return { member: { char: escaped }, end: i + 2 };
  return { member: { unknown: true }, end: i + 2 };
}

/**
 * Reads the class that opens at `i`: where it ends (after its `]`) and whether it can match `/`. A negated class
 * is known to exclude `/` only when it lists `/` itself; anything not analysed counts as matching it.
 */
function readClass(pattern: string, i: number): { end: number; matchesSlash: boolean } {
  let j = i + 1;
  const negated = pattern[j] === '^';
  if (negated) j++;
  let holdsSlash = false;
  let listsSlash = false;
  // JavaScript closes a class at its first unescaped `]`, even right after `[` (an empty class).
  while (j < pattern.length && pattern[j] !== ']') {
    const first = readMember(pattern, j);
    j = first.end;
    if (pattern[j] === '-' && j + 1 < pattern.length && pattern[j + 1] !== ']') {
      const second = readMember(pattern, j + 1);
      j = second.end;
      if ('char' in first.member && 'char' in second.member) {
        const [low, high] = [first.member.char, second.member.char].map(c => c.charCodeAt(0));
        holdsSlash ||= low <= SLASH && SLASH <= high;
      } else {
        holdsSlash = true;
      }
      continue;
    }
    const { member } = first;
    if ('char' in member) {
      holdsSlash ||= member.char === '/';
      listsSlash ||= member.char === '/';
    } else {
      holdsSlash ||= !('narrow' in member && member.narrow);
    }
  }
  if (j >= pattern.length) return { end: j, matchesSlash: true };
  return { end: j + 1, matchesSlash: negated ? !listsSlash : holdsSlash };
}

/**
 * Whether a parameter's pattern can never match a `/`, so that the parameter stays within its segment.
 *
 * @remarks
 * Conservative: `.`, `\D`, `\W`, `\S`, a literal or escaped `/`, a class that may hold `/` (a negated one that
 * does not list it, a range across it) and any escape this reader does not know make it answer `false`. Groups,
 * alternatives and quantifiers only arrange atoms, so they do not change the answer.
 *
 * @param pattern - The pattern as Express 4 runs it, parentheses included or not.
 * @internal
 */
export function patternStaysInSegment(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '[') {
      const { end, matchesSlash } = readClass(pattern, i);
      if (matchesSlash) return false;
      i = end - 1;
    } else if (c === '\\') {
      const { member } = readMember(pattern, i);
      if (!('char' in member ? member.char !== '/' : 'narrow' in member && member.narrow)) {
        return false;
      }
      i++;
    } else if (c === '.' || c === '/') {
      return false;
    }
  }
  return true;
}
