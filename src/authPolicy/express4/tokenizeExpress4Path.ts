import { PolicyPathSyntaxError } from '../../errors';
import { EXPRESS4_FORMS } from './express4Forms';
import type { Express4TokenKind } from './express4Forms';

/** One token of an Express 4 path: its kind, where it is, and the form's parts. */
export interface Express4Token {
  kind: Express4TokenKind;
  /** Index of the token's first character in the path. */
  start: number;
  /** Index right after the token. */
  end: number;
  /** The token's text. */
  text: string;
  /** The form's groups (for a parameter: slash, format dot, name, pattern, star, optional). */
  parts: ReadonlyArray<string | undefined>;
}

/** Control characters have no place in a route and would change how patterns read. */
// eslint-disable-next-line no-control-regex -- the range is the point: it classifies raw characters
const CONTROL_CHAR = /[\x00-\x1f\x7f]/;

/**
 * Splits an Express 4 path into tokens, trying the forms of {@link EXPRESS4_FORMS} in order at each position.
 *
 * @throws {@link PolicyPathSyntaxError} for a control character.
 * @internal
 */
export function tokenizeExpress4Path(path: string): Express4Token[] {
  const control = CONTROL_CHAR.exec(path);
  if (control) {
    throw new PolicyPathSyntaxError('control characters are not accepted', control.index);
  }
  const tokens: Express4Token[] = [];
  let position = 0;
  while (position < path.length) {
    for (const { kind, pattern } of EXPRESS4_FORMS) {
      pattern.lastIndex = position;
      const match = pattern.exec(path);
      if (match) {
        const [text, ...parts] = match;
        tokens.push({ kind, start: position, end: position + text.length, text, parts });
        position += text.length;
        break;
      }
    }
  }
  return tokens;
}
