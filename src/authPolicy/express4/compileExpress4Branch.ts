import type { CompiledBranch, SegmentStep } from '../types';

/** One piece of the expression Express 4 generates, with what the matcher can index it as. */
export interface Express4Piece {
  /** The piece's regular expression source. */
  source: string;
  /** The literal character this piece matches, when it is one literal character. */
  literal?: string;
  /** Whether the piece starts with a `/` that opens a segment: outside groups, and always there. */
  opensSegment?: boolean;
  /** Whether the piece may match a `/` that does not open its segment, so that the segment has no known end. */
  crossesSegments?: boolean;
  /** Whether the piece is a plain `/:name` parameter (optional or not): any non-empty segment. */
  segmentParam?: boolean;
  /** Whether the piece is an optional parameter that, when present, is one whole segment (`/:id?`, `/:id(\\d+)?`). */
  optionalSegment?: boolean;
}

/** Beyond this many combinations, optional parameters stay in the tail rather than multiply the branches. */
const MAX_BRANCHES = 16;

/** Express 4 ends its expression at a segment boundary; a segment's own expression must end there too. */
const SEGMENT_END = '(?=\\/|$)';

/**
 * Splits the pieces at each optional whole-segment parameter (`/:name?`, `/:name(\\d+)?`) into the pieces with
 * it as a whole segment and the pieces without it, so that the matcher can index both.
 *
 * @internal
 */
export function expandOptionalSegments(
  pieces: readonly Express4Piece[],
): Array<readonly Express4Piece[]> {
  let branches: Express4Piece[][] = [[]];
  for (const piece of pieces) {
    if (piece.optionalSegment && branches.length * 2 <= MAX_BRANCHES) {
      const present: Express4Piece = {
        source: piece.source.slice(0, -1),
        opensSegment: true,
        segmentParam: piece.segmentParam,
      };
      branches = branches.flatMap(branch => [[...branch, present], branch]);
    } else {
      branches.forEach(branch => branch.push(piece));
    }
  }
  return branches;
}

/** The step a segment's pieces (its opening `/` first) make, or `undefined` when its end is unknown. */
function segmentStep(segment: readonly Express4Piece[]): SegmentStep | undefined {
  const [opening, ...rest] = segment;
  if (opening.literal === '/' && rest.every(piece => piece.literal !== undefined)) {
    return { kind: 'literal', value: rest.map(piece => piece.literal).join('') };
  }
  if (opening.segmentParam && rest.length === 0) {
    return { kind: 'param' };
  }
  if (segment.every(piece => !piece.crossesSegments)) {
    // The pieces cannot take a `/` beyond the opening one, so they match exactly one segment when they match.
    return { kind: 'pattern', source: segment.map(piece => piece.source).join('') + SEGMENT_END };
  }
  return undefined;
}

/**
 * Reads the pieces of an Express 4 expression as segment steps for as long as each segment's end is known:
 * literal text, a plain `/:name`, or pieces that cannot match a `/` of their own (`/:id(\\d+)`, `/ab?c`,
 * `/:a-:b`). The remaining pieces, from the `/` that opens their segment, become the tail.
 *
 * @remarks
 * Each segment step runs the very pieces of Express's expression at the segment's `/`, so lookaheads see the
 * same text; as no piece crosses a `/`, the whole expression matches exactly when every segment does.
 *
 * @param pieces - The pieces in order.
 * @param suffix - What Express appends to them (the optional trailing `/` and the boundary).
 * @internal
 */
export function compileExpress4Branch(
  pieces: readonly Express4Piece[],
  suffix: string,
): CompiledBranch {
  // A trailing `/` is optional in Express 4 (the suffix makes it so), so it stays in the tail.
  const body = pieces[pieces.length - 1]?.literal === '/' ? pieces.slice(0, -1) : pieces;
  const starts = [0];
  body.forEach((piece, index) => {
    if (piece.opensSegment) starts.push(index);
  });
  const steps: SegmentStep[] = [];
  for (let k = 0; k < starts.length; k++) {
    const segment = body.slice(starts[k], starts[k + 1] ?? body.length);
    let step: SegmentStep | undefined;
    if (k > 0) {
      step = segmentStep(segment);
    } else if (segment.every(piece => piece.literal !== undefined)) {
      step = { kind: 'literal', value: segment.map(piece => piece.literal).join('') };
    }
    if (!step) {
      const tail = pieces.slice(starts[k]).map(rest => rest.source);
      return { steps, tail: tail.join('') + suffix };
    }
    steps.push(step);
  }
  if (body.length < pieces.length) {
    return { steps, tail: pieces[pieces.length - 1].source + suffix };
  }
  return { steps, tail: undefined };
}
