/**
 * Numbered policy paths `/p0…`, `/p1…`, … in path-to-regexp 8 syntax that both factories accept.
 *
 * @remarks
 * Four shapes take turns (named parameter, wildcard, optional segment, plain literal), so that a
 * matcher cannot specialise on one of them. The shape is counted from the end, which makes the last
 * policy `/p<count-1>/:id` whatever the count, so "the request matches the last policy" means the same
 * thing at 1 and at 1,000 policies. Express-4-only syntax (`/p/*`, `/:id?`) is left out on purpose:
 * upstream rejects it, and the comparison needs the same policies on both sides.
 *
 * @param count - how many paths to make.
 */
export function createPolicyPaths(count: number): string[] {
  return Array.from({ length: count }, (_, index) => {
    const prefix = `/p${index}`;
    switch ((count - 1 - index) % 4) {
      case 0:
        return `${prefix}/:id`;
      case 1:
        return `${prefix}/{*rest}`;
      case 2:
        return `${prefix}{/:section}`;
      default:
        return prefix;
    }
  });
}
