import type { AuthPolicyAccess, CompiledBranch, CompiledPolicyPath } from './types';

/** One added policy, shared by the trie nodes where its branches end. */
export interface PolicyEntry {
  allow: AuthPolicyAccess;
  compiled: CompiledPolicyPath;
  /** The whole-path expression, built the first time a request with `%` needs its captures checked. */
  exact?: RegExp;
}

/** One node of a policy trie: its edges, one kind of segment step each, and the policies that end at it. */
export interface TrieNode {
  literals: Map<string, TrieNode>;
  param?: TrieNode;
  /** One edge per distinct segment expression, so policies of the same shape share it. */
  patterns: Map<string, { regexp: RegExp; node: TrieNode }>;
  wildcard?: TrieNode;
  /** Policies whose branch ends here without a tail: they cover every request that reaches the node. */
  ends: PolicyEntry[];
  tails: Array<{ regexp: RegExp; entry: PolicyEntry }>;
}

/** A node with no edges and no policies. */
export function newNode(): TrieNode {
  return { literals: new Map(), patterns: new Map(), ends: [], tails: [] };
}

/** Where one policy's branches already end, so that branches leading to the same place are kept once. */
export type Placed = Map<TrieNode, Set<string | undefined>>;

/** Indexes one branch of a policy; returns the units of work it took: one per step, and one for where it ends. */
export function insertBranch(
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
