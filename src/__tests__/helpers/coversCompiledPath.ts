import type { CompiledBranch, CompiledPolicyPath } from '../../authPolicy/types';

/** Whether `branch` matches `path` from segment `index` (of `segments`, which start at `starts`) on. */
function matchesFrom(
  branch: CompiledBranch,
  step: number,
  path: string,
  segments: string[],
  starts: number[],
  index: number,
): boolean {
  // Where the segments before `index` end: the `/` before segment `index`, or the end of the path.
  const position = index === 0 ? 0 : starts[index - 1] + segments[index - 1].length;
  if (step === branch.steps.length) {
    if (branch.tail === undefined) return true;
    const tail = new RegExp(branch.tail, 'y');
    tail.lastIndex = position;
    return tail.test(path);
  }
  if (index >= segments.length) return false;
  const current = branch.steps[step];
  const next = (to: number) => matchesFrom(branch, step + 1, path, segments, starts, to);
  switch (current.kind) {
    case 'literal':
      return segments[index] === current.value && next(index + 1);
    case 'param':
      return segments[index] !== '' && next(index + 1);
    case 'pattern': {
      const pattern = new RegExp(current.source, 'y');
      pattern.lastIndex = position;
      return (
        pattern.test(path) &&
        pattern.lastIndex === starts[index] + segments[index].length &&
        next(index + 1)
      );
    }
    case 'wildcard':
      for (let last = index; last < segments.length; last++) {
        if ((last > index || segments[index] !== '') && next(last + 1)) return true;
      }
      return false;
  }
}

/**
 * Whether a compiled policy path covers a request path, read straight from the contract of
 * {@link CompiledPolicyPath} rather than through the matcher's trie.
 *
 * @remarks
 * Some branch must match: the request's segments (split on `/`) match its steps in order, and its tail, when
 * there is one, matches (flag `y`) at the character right after those segments. Captures are not decoded.
 */
export function coversCompiledPath(compiled: CompiledPolicyPath, path: string): boolean {
  const segments = path.split('/');
  const starts: number[] = [];
  segments.reduce((start, segment) => {
    starts.push(start);
    return start + segment.length + 1;
  }, 0);
  return compiled.branches.some(branch => matchesFrom(branch, 0, path, segments, starts, 0));
}
