import { PolicyPathSyntaxError } from '../../errors';

/**
 * Creates the tally that keeps an Express 4 path's matching linear: at most one unbounded repetition per path,
 * and none in a segment it shares with another parameter.
 *
 * @remarks
 * Two unbounded repetitions, or one beside a parameter in the same segment, let a backtracking engine try every
 * way of sharing the request between them. Segments are counted as the grammar crosses `/`.
 *
 * @internal
 */
export function createRepetitionBudget() {
  let unbounded = 0;
  const paramsPerSegment = new Map<number, number>();
  // Each unbounded repetition's segment, position, and whether a parameter owns it (`:id*`, `:id(a+)`).
  const repetitions: Array<{ segment: number; position: number; owned: boolean }> = [];

  return {
    /** Counts a parameter in `segment`. */
    param(segment: number) {
      paramsPerSegment.set(segment, (paramsPerSegment.get(segment) ?? 0) + 1);
    },
    /** Counts `count` unbounded repetitions at `position`; throws at the second in a path. */
    unbounded(count: number, segment: number, position: number, owned: boolean) {
      if (count === 0) return;
      unbounded += count;
      repetitions.push({ segment, position, owned });
      if (unbounded > 1) {
        throw new PolicyPathSyntaxError(
          'only one unbounded repetition (*, +, {n,} or a * parameter) is accepted per path; use the path-to-regexp 8 form /*name',
          position,
        );
      }
    },
    /** Throws when a repetition shares its segment with a parameter other than its own. */
    checkSegments() {
      for (const { segment, position, owned } of repetitions) {
        if ((paramsPerSegment.get(segment) ?? 0) > (owned ? 1 : 0)) {
          throw new PolicyPathSyntaxError(
            'an unbounded repetition cannot share a segment with another parameter',
            position,
          );
        }
      }
    },
  };
}
