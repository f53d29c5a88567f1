import type {
  AuthPolicyAccess,
  AuthPolicyLookup,
  CompiledBranch,
  CompiledPolicyPath,
} from './types';

/** One added policy, shared by the trie nodes where its branches end. */
interface PolicyEntry {
  allow: AuthPolicyAccess;
  compiled: CompiledPolicyPath;
  /** The whole-path expression, built the first time a request with `%` needs its captures checked. */
  exact?: RegExp;
}

interface TrieNode {
  literals: Map<string, TrieNode>;
  param?: TrieNode;
  /** One edge per distinct segment expression, so policies of the same shape share it. */
  patterns: Map<string, { regexp: RegExp; node: TrieNode }>;
  wildcard?: TrieNode;
  /** Policies whose branch ends here without a tail: they cover every request that reaches the node. */
  ends: PolicyEntry[];
  tails: Array<{ regexp: RegExp; entry: PolicyEntry }>;
}

/**
 * A plugin's policies, indexed for lookups.
 *
 * @internal
 */
export interface PolicyMatcher {
  /** Indexes one more policy; costs the length of its branches, whatever the number of policies already in. */
  add(compiled: CompiledPolicyPath, allow: AuthPolicyAccess): void;
  /** Which access the policies give a request path (`req.path`). */
  lookup: AuthPolicyLookup;
  /** How many trie nodes and expressions all lookups so far have tried; tests bound a lookup's cost with it. */
  readonly work: number;
  /** How many steps and branch ends all adds so far have indexed; tests bound an add's cost with it. */
  readonly insertWork: number;
}

const newNode = (): TrieNode => ({ literals: new Map(), patterns: new Map(), ends: [], tails: [] });

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

/** Where one policy's branches already end, so that branches leading to the same place are kept once. */
type Placed = Map<TrieNode, Set<string | undefined>>;

/** Indexes one branch; returns the units of work it took: one per step, and one for where it ends. */
function insert(
  root: TrieNode,
  branch: CompiledBranch,
  entry: PolicyEntry,
  placed: Placed,
): number {
  let node = root;
  for (const step of branch.steps) {
    let next: TrieNode | undefined;
    if (step.kind === 'literal') {
      next = node.literals.get(step.value);
      if (!next) node.literals.set(step.value, (next = newNode()));
    } else if (step.kind === 'param') {
      next = node.param ??= newNode();
    } else if (step.kind === 'wildcard') {
      next = node.wildcard ??= newNode();
    } else {
      let edge = node.patterns.get(step.source);
      if (!edge) {
        edge = { regexp: new RegExp(step.source, 'y'), node: newNode() };
        node.patterns.set(step.source, edge);
      }
      next = edge.node;
    }
    node = next;
  }
  // Optional parameters can lead two branches of a policy to the same node with the same tail (`/:a?/:b?`).
  let here = placed.get(node);
  if (!here) placed.set(node, (here = new Set()));
  if (here.has(branch.tail)) return branch.steps.length + 1;
  here.add(branch.tail);
  if (branch.tail === undefined) {
    node.ends.push(entry);
  } else {
    node.tails.push({ regexp: new RegExp(branch.tail, 'y'), entry });
  }
  return branch.steps.length + 1;
}

/**
 * Creates an index of a plugin's auth policies.
 *
 * @remarks
 * Each branch of a policy ({@link CompiledPolicyPath}) becomes a path in a trie whose edges are segment steps:
 * literal segments are found by hash, one `param` edge takes any non-empty segment, one edge per distinct
 * segment expression takes segments of that shape, and one `wildcard` edge takes any run of segments. A lookup
 * walks the request's segments down every edge that accepts them, so its cost depends on the request and on the
 * number of distinct shapes at the nodes it reaches, not on the number of policies. Only tails (what a branch
 * cannot say in whole segments) are tried one by one at their node. `unauthenticated` wins over `user-cookie`.
 *
 * @param policies - Policies to index at once, as if added in order. Defaults to none.
 * @internal
 */
export function createPolicyMatcher(
  policies: ReadonlyArray<{ compiled: CompiledPolicyPath; allow: AuthPolicyAccess }> = [],
): PolicyMatcher {
  const root = newNode();
  let work = 0;
  let insertWork = 0;

  const add = (compiled: CompiledPolicyPath, allow: AuthPolicyAccess) => {
    const entry: PolicyEntry = { allow, compiled };
    const placed: Placed = new Map();
    for (const branch of compiled.branches) insertWork += insert(root, branch, entry, placed);
  };
  policies.forEach(({ compiled, allow }) => add(compiled, allow));

  const lookup = function lookupAuthPolicy(path: string): AuthPolicyAccess | undefined {
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
      work++;
      // Where the node's segments end: the `/` before segment `i`, or the end of the path.
      const position = i === 0 ? 0 : segmentEnd(i - 1);
      for (const entry of node.ends) {
        if (accept(entry)) return 'unauthenticated';
      }
      for (const { regexp, entry } of node.tails) {
        if (entry.allow === 'user-cookie' && cookie) continue;
        work++;
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
        work++;
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
  };

  return {
    add,
    lookup,
    get work() {
      return work;
    },
    get insertWork() {
      return insertWork;
    },
  };
}
