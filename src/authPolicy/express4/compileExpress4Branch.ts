import type { CompiledBranch, SegmentStep } from '../types';

/** One piece of the expression Express 4 generates, with what the matcher can index it as. */
export interface Express4Piece {
  /** The piece's regular expression source. */
  source: string;
  /** The literal character this piece matches, when it is one literal character. */
  literal?: string;
  /** Whether the piece is a plain `/:name` parameter: one whole non-empty segment. */
  segmentParam?: boolean;
  /** Whether the piece is a plain `/:name?` parameter: one whole non-empty segment, or nothing. */
  optionalSegmentParam?: boolean;
}

/** Beyond this many combinations, optional parameters stay in the tail rather than multiply the branches. */
const MAX_BRANCHES = 16;

/**
 * Splits the pieces at each plain optional parameter (`/:name?`) into the pieces with it as a whole segment and
 * the pieces without it, so that the matcher can index both.
 *
 * @internal
 */
export function expandOptionalSegments(
  pieces: readonly Express4Piece[],
): Array<readonly Express4Piece[]> {
  let branches: Express4Piece[][] = [[]];
  for (const piece of pieces) {
    if (piece.optionalSegmentParam && branches.length * 2 <= MAX_BRANCHES) {
      const present = { source: piece.source.slice(0, -1), segmentParam: true };
      branches = branches.flatMap(branch => [[...branch, present], branch]);
    } else {
      branches.forEach(branch => branch.push(piece));
    }
  }
  return branches;
}

/**
 * Reads the pieces of an Express 4 expression as segment steps for as long as its segments are whole (literal
 * text, or a plain `/:name`); the remaining pieces, from the `/` that starts their segment, become the tail.
 *
 * @param pieces - The pieces in order.
 * @param suffix - What Express appends to them (the optional trailing `/` and the boundary).
 * @internal
 */
export function compileExpress4Branch(
  pieces: readonly Express4Piece[],
  suffix: string,
): CompiledBranch {
  const steps: SegmentStep[] = [];
  // The open segment: its literal text so far, or a parameter; and the piece that started it.
  let open: SegmentStep = { kind: 'literal', value: '' };
  let openedAt = 0;
  // A trailing `/` is optional in Express 4, so it cannot end a segment step.
  const last = pieces.length - 1;
  for (let index = 0; index < pieces.length; index++) {
    const piece = pieces[index];
    const trailingSlash = index === last && piece.source.endsWith('/');
    if (!trailingSlash && (piece.literal === '/' || piece.segmentParam)) {
      steps.push(open);
      open = piece.segmentParam ? { kind: 'param' } : { kind: 'literal', value: '' };
      openedAt = index;
    } else if (!trailingSlash && piece.literal !== undefined && open.kind === 'literal') {
      open = { kind: 'literal', value: open.value + piece.literal };
    } else {
      if (piece.source.startsWith('/') || piece.source.startsWith('(?:/')) {
        steps.push(open);
        openedAt = index;
      }
      const tail = pieces.slice(openedAt).map(rest => rest.source);
      return { steps, tail: tail.join('') + suffix };
    }
  }
  steps.push(open);
  return { steps, tail: undefined };
}
