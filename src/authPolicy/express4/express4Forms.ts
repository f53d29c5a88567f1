/** The kinds of token an Express 4 path is made of. */
export type Express4TokenKind =
  | 'escape'
  | 'param'
  | 'dot'
  | 'star'
  | 'slashGroup'
  | 'groupOpen'
  | 'groupClose'
  | 'quantifier'
  | 'pipe'
  | 'operator'
  | 'char';

/** One form of the Express 4 path syntax: how it is recognised and what Express 4 makes of it. */
export interface Express4Form {
  kind: Express4TokenKind;
  /** Recognises the form at a position (sticky). */
  pattern: RegExp;
  example: string;
  /** What Express 4's path-to-regexp 0.1 turns it into. */
  meaning: string;
}

/**
 * The accepted forms, in the order they are tried at each position of the path (the first that matches wins), as
 * Express 4's path-to-regexp 0.1 reads them.
 *
 * @internal
 */
export const EXPRESS4_FORMS: readonly Express4Form[] = [
  {
    kind: 'escape',
    pattern: /\\([^]?)/y,
    example: '/a\\.b',
    meaning: 'the escaped character literally; only punctuation may be escaped',
  },
  {
    kind: 'param',
    // An optional `/`, an optional `.` (format), `:name`, a `(pattern)` up to the first `)`, `*` and `?`.
    pattern: /(\/)?(\.)?:(\w+)(\([^)]*\))?(\*)?(\?)?/y,
    example: '/users/:id(\\d+)?',
    meaning:
      'a capture: the pattern, or else text up to the next `/` (and `.` after a format dot); `*` lets it run on ' +
      'over `/` and `.`; `?` makes it optional with its leading `/` or `.`',
  },
  { kind: 'dot', pattern: /\./y, example: '/file.json', meaning: 'a literal `.`' },
  {
    kind: 'star',
    pattern: /\*/y,
    example: '/static/*',
    meaning: 'a capture of anything, `/` included',
  },
  {
    kind: 'slashGroup',
    pattern: /\/\(/y,
    example: '/(a|b)',
    meaning: 'a `/` followed by a non-capturing group',
  },
  { kind: 'groupOpen', pattern: /\(/y, example: '/ab(cd)?e', meaning: 'opens a capturing group' },
  { kind: 'groupClose', pattern: /\)/y, example: '/ab(cd)?e', meaning: 'closes the group' },
  {
    kind: 'quantifier',
    pattern: /[?+]/y,
    example: '/ab?c',
    meaning: 'the previous character or group is optional (`?`) or repeats (`+`)',
  },
  {
    kind: 'pipe',
    pattern: /\|/y,
    example: '/x(a|b)',
    meaning: 'alternatives, inside a group only',
  },
  {
    kind: 'operator',
    pattern: /[[\]{}^$]/y,
    example: '/a[b]',
    meaning: 'refused: a regular expression operator Express would pass through unchecked',
  },
  { kind: 'char', pattern: /[^]/y, example: '/health', meaning: 'the character literally' },
];
