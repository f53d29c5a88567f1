import { lookupPolicy } from './lookupPolicy';
import { insertBranch, newNode, type Placed, type PolicyEntry } from './policyTrie';
import type { AuthPolicyAccess, AuthPolicyLookup, CompiledPolicyPath } from './types';

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
  const counter = { work: 0 };
  let insertWork = 0;

  const add = (compiled: CompiledPolicyPath, allow: AuthPolicyAccess) => {
    const entry: PolicyEntry = { allow, compiled };
    const placed: Placed = new Map();
    for (const branch of compiled.branches) insertWork += insertBranch(root, branch, entry, placed);
  };
  policies.forEach(({ compiled, allow }) => add(compiled, allow));

  return {
    add,
    lookup: function lookupAuthPolicy(path: string): AuthPolicyAccess | undefined {
      return lookupPolicy(root, path, counter);
    },
    get work() {
      return counter.work;
    },
    get insertWork() {
      return insertWork;
    },
  };
}
