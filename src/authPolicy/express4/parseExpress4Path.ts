import { PolicyPathSyntaxError } from '../../errors';
import type { Express4Piece } from './compileExpress4Branch';
import { createRepetitionBudget } from './createRepetitionBudget';
import type { Express4TokenKind } from './express4Forms';
import { inspectPattern } from './inspectPattern';
import { patternStaysInSegment } from './patternStaysInSegment';
import type { Express4Token } from './tokenizeExpress4Path';

/** What the previous token was, as far as the next one cares. */
type Previous = 'nothing' | 'literal' | 'param' | 'group' | 'quantifier';

/** What the grammar has read so far. */
interface ParseState {
  path: string;
  pieces: Express4Piece[];
  /**
   * Express 4's text since the last parameter (`backtrack`) and where its previous token ended (`consumed`): both
   * bound a parameter that does not follow a `/`. Their odd updates after `\x` and `.` mirror Express, so that
   * the expressions are identical.
   */
  backtrack: string;
  consumed: number;
  depth: number;
  groupStart: number;
  segment: number;
  previous: Previous;
  lastGroupRepeats: boolean;
  hasCaptures: boolean;
  budget: ReturnType<typeof createRepetitionBudget>;
}

const fail = (message: string, position: number): never => {
  throw new PolicyPathSyntaxError(message, position);
};

/** What a piece that matches `character` says about segments: a `/` outside groups opens one. */
function slashPiece(state: ParseState, character: string | undefined): Partial<Express4Piece> {
  if (character !== '/') return {};
  return state.depth === 0 ? { opensSegment: true } : { crossesSegments: true };
}

/** Express 4 turns the first `*` of a pattern into `(.*)`, unless an escape comes first. */
function expandPatternStar(pattern: string): string {
  const first = /\\.|\*/.exec(pattern);
  return first && first[0] === '*'
    ? pattern.slice(0, first.index) + '(.*)' + pattern.slice(first.index + 1)
    : pattern;
}

/** `[/][.]:name[(pattern)][*][?]`: a capture, bounded as Express 4 bounds it. */
function param(state: ParseState, { start, end, parts }: Express4Token): void {
  const [slash, format, , pattern, star, optional] = parts;
  if (state.previous === 'param' && !slash && !format) {
    fail('two parameters need text between them', start);
  }
  if (slash) state.segment++;
  state.budget.param(state.segment);
  state.backtrack =
    slash || format ? '' : state.backtrack + state.path.slice(state.consumed, start);
  state.consumed = end;
  const dot = format ? '\\.' : '';
  let capture: string;
  if (pattern !== undefined) {
    capture = expandPatternStar(pattern);
    const patternStart = end - pattern.length - (star ? 1 : 0) - (optional ? 1 : 0);
    const info = inspectPattern(capture.slice(1, -1), patternStart + 1);
    state.budget.unbounded(info.unbounded, state.segment, patternStart, true);
  } else if (state.backtrack) {
    capture = `((?:(?!/|${state.backtrack}).)+?)`;
  } else {
    capture = `([^/${dot}]+?)`;
  }
  if (star) {
    state.budget.unbounded(1, state.segment, end - (optional ? 2 : 1), true);
  }
  const repeat = star ? `((?:[/${dot}].+?)?)` : '';
  const source = `(?:${dot}${slash ?? ''}${capture}${repeat})${optional ?? ''}`;
  // A mandatory `/` outside groups opens a segment; a capture that cannot take a `/` stays in it.
  const opens = !!slash && !format && state.depth === 0;
  const confined = !star && (pattern === undefined || patternStaysInSegment(capture));
  const segmentParam = opens && !star && pattern === undefined;
  if (opens && !optional) {
    state.pieces.push({ source, opensSegment: true, crossesSegments: !confined, segmentParam });
  } else {
    // Left as it is, an optional `/` leaves the segment's end unknown.
    const crossesSegments = !!slash || !confined;
    const optionalSegment = opens && confined;
    state.pieces.push({ source, crossesSegments, optionalSegment, segmentParam });
  }
  state.hasCaptures = true;
  state.backtrack = '';
  state.previous = 'param';
}

/** `?` or `+` after a character or a group. */
function quantifier(state: ParseState, { start, text }: Express4Token): void {
  if (state.previous === 'nothing' || state.previous === 'quantifier') {
    fail(`'${text}' does not follow anything it could repeat`, start);
  }
  if (state.previous === 'param') {
    fail(`'${text}' cannot follow a parameter here`, start);
  }
  if (state.previous === 'group' && state.lastGroupRepeats && text === '+') {
    fail('a repeated group may not repeat inside (nested quantifier)', start);
  }
  if (text === '+') state.budget.unbounded(1, state.segment, start, false);
  if (state.depth > 0) state.lastGroupRepeats = true;
  // The quantifier turns the previous character into a pattern: it is no longer a literal segment's, and a `/`
  // it repeats or makes optional no longer says where a segment starts.
  const previous = state.pieces[state.pieces.length - 1];
  if (previous) {
    delete previous.literal;
    if (previous.opensSegment) {
      delete previous.opensSegment;
      previous.crossesSegments = true;
    }
  }
  state.pieces.push({ source: text });
  state.previous = 'quantifier';
}

/** The grammar: what each kind of token adds to the expression and to the state. */
const GRAMMAR: Record<Express4TokenKind, (state: ParseState, token: Express4Token) => void> = {
  escape(state, { start, text, parts: [escaped] }) {
    if (!escaped || /[A-Za-z0-9]/.test(escaped)) {
      fail(`'\\' must escape a punctuation character`, start);
    }
    state.pieces.push({ source: text, literal: escaped, ...slashPiece(state, escaped) });
    state.backtrack += text;
    state.consumed += 2;
    state.previous = 'literal';
  },
  param,
  dot(state) {
    state.pieces.push({ source: '\\.', literal: '.' });
    state.backtrack += '\\.';
    state.consumed += 1;
    state.previous = 'literal';
  },
  star(state, { start, end }) {
    state.backtrack = '';
    state.consumed = end;
    state.pieces.push({ source: '(.*)', crossesSegments: true });
    state.hasCaptures = true;
    state.budget.unbounded(1, state.segment, start, false);
    if (state.depth > 0) state.lastGroupRepeats = true;
    state.previous = 'literal';
  },
  slashGroup(state, { start, end }) {
    state.backtrack += state.path.slice(state.consumed, start) + '/';
    state.consumed = end;
    state.segment++;
    state.pieces.push({ source: '/(?:', ...slashPiece(state, '/') });
    state.depth++;
    state.groupStart = start + 1;
    state.lastGroupRepeats = false;
    state.previous = 'nothing';
  },
  groupOpen(state, { start }) {
    if (state.depth > 0) fail('groups cannot be nested', start);
    state.depth++;
    state.groupStart = start;
    state.lastGroupRepeats = false;
    state.hasCaptures = true;
    state.pieces.push({ source: '(' });
    state.previous = 'nothing';
  },
  groupClose(state, { start }) {
    if (state.depth === 0) fail("unbalanced ')'", start);
    state.depth--;
    state.pieces.push({ source: ')' });
    state.previous = 'group';
  },
  quantifier,
  pipe(state, token) {
    if (state.depth === 0) GRAMMAR.operator(state, token);
    state.pieces.push({ source: '|' });
    state.previous = 'nothing';
  },
  operator(_state, { start, text }) {
    fail(
      `'${text}' is a regular expression operator; escape it as '\\${text}' to match it literally`,
      start,
    );
  },
  char(state, { text }) {
    if (text === '/' && state.depth === 0) state.segment++;
    state.pieces.push({ source: text, literal: text, ...slashPiece(state, text) });
    state.previous = 'literal';
  },
};

/**
 * Reads the tokens of an Express 4 path into the pieces of the expression Express 4 builds from it.
 *
 * @throws {@link PolicyPathSyntaxError} at the first token the grammar refuses.
 * @internal
 */
export function parseExpress4Path(
  path: string,
  tokens: readonly Express4Token[],
): { pieces: Express4Piece[]; hasCaptures: boolean } {
  const state: ParseState = {
    path,
    pieces: [],
    backtrack: '',
    consumed: 0,
    depth: 0,
    groupStart: 0,
    segment: 0,
    previous: 'nothing',
    lastGroupRepeats: false,
    hasCaptures: false,
    budget: createRepetitionBudget(),
  };
  for (const token of tokens) {
    GRAMMAR[token.kind](state, token);
  }
  if (state.depth > 0) {
    fail("unbalanced '('", state.groupStart);
  }
  state.budget.checkSegments();
  return { pieces: state.pieces, hasCaptures: state.hasCaptures };
}
