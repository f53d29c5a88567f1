import type { PolicyEntry, TrieNode } from './policyTrie';
import type { AuthPolicyAccess } from './types';

/** Whether every capture group of `match` percent-decodes, as Express 4 requires before it routes. */
function capturesDecode(match: RegExpExecArray): boolean {
  for (let i = 1; i < match.length; i++) {
    const value = match[i];
    if (value && value.includes('%')) {
      try {
        decodeURIComponent(value);
      } catch {
        return false;
      }
    }
  }
  return true;
}

/** Whether a request covered by `entry`'s branches is covered once its captures are decoded. */
function decodes(entry: PolicyEntry, path: string): boolean {
  if (!entry.compiled.hasCaptures || !path.includes('%')) {
    return true;
  }
  entry.exact ??= new RegExp(entry.compiled.source);
  const match = entry.exact.exec(path);
  return match !== null && capturesDecode(match);
}

/**
 * Which access the policies indexed under `root` give a request path.
 *
 * @remarks
 * Walks the request's segments down every edge that accepts them; each trie node and expression tried adds one
 * to `counter.work`.
 */
export function lookupPolicy(
  root: TrieNode,
  path: string,
  counter: { work: number },
): AuthPolicyAccess | undefined {
  // `ends[i]` is where segment `i` ends in `path`; filled as deep as the walk goes.
  const ends: number[] = [];
  const segmentEnd = (i: number): number => {
    while (ends.length <= i) {
      const start = ends.length === 0 ? 0 : ends[ends.length - 1] + 1;
      const slash = path.indexOf('/', start);
      ends.push(slash < 0 ? path.length : slash);
    }
    return ends[i];
  };
  let cookie = false;
  const segmentExists = (j: number) => j === 0 || segmentEnd(j - 1) < path.length;
  let visited: Map<TrieNode, Set<number>> | undefined;
  // Each item is a node and how many segments of the request lie before it.
  const stack: Array<[TrieNode, number]> = [[root, 0]];
  const accept = (entry: PolicyEntry) => {
    if (entry.allow === 'unauthenticated' || !cookie) {
      if (decodes(entry, path)) {
        if (entry.allow === 'unauthenticated') return true;
        cookie = true;
      }
    }
    return false;
  };

  while (stack.length > 0) {
    const [node, i] = stack.pop()!;
    counter.work++;
    // Where the node's segments end: the `/` before segment `i`, or the end of the path.
    const position = i === 0 ? 0 : segmentEnd(i - 1);
    for (const entry of node.ends) {
      if (accept(entry)) return 'unauthenticated';
    }
    for (const { regexp, entry } of node.tails) {
      if (entry.allow === 'user-cookie' && cookie) continue;
      counter.work++;
      regexp.lastIndex = position;
      if (regexp.test(path) && accept(entry)) return 'unauthenticated';
    }
    if (!segmentExists(i)) {
      continue;
    }
    const start = i === 0 ? 0 : position + 1;
    const end = segmentEnd(i);
    const literal = node.literals.get(path.slice(start, end));
    if (literal) stack.push([literal, i + 1]);
    if (node.param && end > start) stack.push([node.param, i + 1]);
    for (const { regexp, node: next } of node.patterns.values()) {
      counter.work++;
      regexp.lastIndex = position;
      if (regexp.test(path) && regexp.lastIndex === end) stack.push([next, i + 1]);
    }
    if (node.wildcard) {
      // Several runs can lead to the same node and segment; each pair is walked once.
      visited ??= new Map();
      let seen = visited.get(node.wildcard);
      if (!seen) visited.set(node.wildcard, (seen = new Set()));
      // The run is segments i..j; it must hold at least one character.
      for (let j = end > start ? i : i + 1; segmentExists(j); j++) {
        if (!seen.has(j + 1)) {
          seen.add(j + 1);
          stack.push([node.wildcard, j + 1]);
        }
      }
    }
  }
  return cookie ? 'user-cookie' : undefined;
}
