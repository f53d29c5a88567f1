/**
 * Counts the single-character insertions, deletions and substitutions that turn `a` into `b`, ignoring case.
 *
 * @internal
 */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i++) {
    const current = [i];
    for (let j = 1; j <= right.length; j++) {
      const substitution = previous[j - 1] + (left[i - 1] === right[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[right.length];
}

/**
 * Picks the known key nearest to an unknown one, for "did you mean" hints.
 *
 * @remarks
 * Ties go to the key listed first. Returns `undefined` when no known key is near enough to be a likely typo:
 * more edits away than a third of the longer name (at least 2), so that an unrelated key gets no misleading hint.
 *
 * @internal
 */
export function findClosestKey(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(unknown, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (
    best === undefined ||
    bestDistance > Math.max(2, Math.floor(Math.max(unknown.length, best.length) / 3))
  ) {
    return undefined;
  }
  return best;
}
