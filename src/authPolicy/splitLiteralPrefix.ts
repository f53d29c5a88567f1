/**
 * Matches a string made only of ASCII characters: the segments that lower-casing folds exactly as the `i` flag.
 *
 * @internal
 */
// eslint-disable-next-line no-control-regex -- the range is the point: it classifies raw characters
export const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * Splits the literal start of a policy path into whole segments that a trie can index.
 *
 * @remarks
 * Only complete segments are taken: everything up to the last `/` of `literal`, or all of it when
 * `endsAtBoundary` says a segment boundary (or the end of the path) follows it. A segment with a non-ASCII
 * character ends the prefix, because the `i` flag of a non-unicode regular expression folds case differently from
 * `toLowerCase` outside ASCII; keeping such segments in the regular expression keeps the meaning exact.
 *
 * @param literal - The literal characters the path starts with, unescaped.
 * @param endsAtBoundary - Whether the path ends, or continues with `/`, right after `literal`.
 * @returns The lower-cased segments, and how many characters of `literal` they use (the tail starts there).
 * @internal
 */
export function splitLiteralPrefix(
  literal: string,
  endsAtBoundary: boolean,
): { segments: string[]; length: number } {
  const limit = endsAtBoundary ? literal.length : literal.lastIndexOf('/');
  if (limit < 0) {
    return { segments: [], length: 0 };
  }
  const segments: string[] = [];
  let length = 0;
  const parts = literal.slice(0, limit).split('/');
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index];
    if (!ASCII_ONLY.test(part)) {
      break;
    }
    segments.push(part.toLowerCase());
    length = index === 0 ? part.length : length + 1 + part.length;
  }
  return { segments, length };
}
