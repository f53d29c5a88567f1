import { ASCII_ONLY } from './splitLiteralPrefix';
import type { AuthPolicyAccess, AuthPolicyLookup, CompiledPolicyPath } from './types';

/** The tails of one access kind hanging off one trie node. */
interface TailSet {
  /** All tails as one sticky alternation, for paths where decoding cannot fail. */
  combined: RegExp;
  /** Each tail on its own, to check that the captures it matched percent-decode. */
  each: Array<{ regexp: RegExp; hasCaptures: boolean }>;
  hasCaptures: boolean;
}

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Access kinds that cover every path reaching this node. */
  covers: Set<AuthPolicyAccess>;
  compiled: Map<AuthPolicyAccess, TailSet>;
  sources: Map<AuthPolicyAccess, Array<{ tail: string; hasCaptures: boolean }>>;
}

const newNode = (): TrieNode => ({
  children: new Map(),
  covers: new Set(),
  compiled: new Map(),
  sources: new Map(),
});

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

function testTails(
  set: TailSet,
  path: string,
  position: number,
  mayFailDecoding: boolean,
): boolean {
  if (!mayFailDecoding || !set.hasCaptures) {
    set.combined.lastIndex = position;
    return set.combined.test(path);
  }
  for (const { regexp, hasCaptures } of set.each) {
    regexp.lastIndex = position;
    const match = regexp.exec(path);
    if (match && (!hasCaptures || capturesDecode(match))) {
      return true;
    }
  }
  return false;
}

/**
 * Builds one lookup over all of a plugin's compiled policies.
 *
 * @remarks
 * Policies are indexed in a trie of their literal leading segments (ASCII, lower-cased). A lookup walks the
 * request path's segments down the trie, so its cost depends on the path's depth and on the policies sharing
 * the request's own prefix, not on how many policies the plugin has. At each node it reached, a policy without a
 * tail covers the request outright, and the tails of the rest run as one sticky alternation per access kind.
 * When the path contains `%`, tails with capture groups run one by one instead, so that a policy whose captured
 * value does not percent-decode does not cover the request (Express 4 answers such a request with 400 and never
 * hands it to a handler). `unauthenticated` wins over `user-cookie`.
 *
 * @param policies - The compiled paths with the access each gives.
 * @returns The lookup from a request path (`req.path`) to the access the policies give it.
 * @internal
 */
export function createPolicyMatcher(
  policies: ReadonlyArray<{ compiled: CompiledPolicyPath; allow: AuthPolicyAccess }>,
): AuthPolicyLookup {
  const root = newNode();
  for (const { compiled, allow } of policies) {
    let node = root;
    for (const segment of compiled.prefix) {
      let child = node.children.get(segment);
      if (!child) {
        child = newNode();
        node.children.set(segment, child);
      }
      node = child;
    }
    if (compiled.tail === undefined) {
      node.covers.add(allow);
    } else {
      const list = node.sources.get(allow) ?? [];
      list.push({ tail: compiled.tail, hasCaptures: compiled.hasCaptures });
      node.sources.set(allow, list);
    }
  }
  const compileNode = (node: TrieNode) => {
    for (const [allow, list] of node.sources) {
      node.compiled.set(allow, {
        combined: new RegExp(list.map(({ tail }) => `(?:${tail})`).join('|'), 'iy'),
        each: list.map(({ tail, hasCaptures }) => ({
          regexp: new RegExp(tail, 'iy'),
          hasCaptures,
        })),
        hasCaptures: list.some(({ hasCaptures }) => hasCaptures),
      });
    }
    node.children.forEach(compileNode);
  };
  compileNode(root);

  return function lookupAuthPolicy(path: string): AuthPolicyAccess | undefined {
    const mayFailDecoding = path.includes('%');
    let cookie = false;
    let node: TrieNode | undefined = root;
    // `position` is where the node's segments end in `path`: the `/` before the next segment, or the end.
    let position = 0;
    let depth = 0;
    while (node) {
      if (node.covers.has('unauthenticated')) {
        return 'unauthenticated';
      }
      const open = node.compiled.get('unauthenticated');
      if (open && testTails(open, path, position, mayFailDecoding)) {
        return 'unauthenticated';
      }
      if (!cookie) {
        const cookieTails = node.compiled.get('user-cookie');
        cookie =
          node.covers.has('user-cookie') ||
          (cookieTails !== undefined && testTails(cookieTails, path, position, mayFailDecoding));
      }
      if (node.children.size === 0) {
        break;
      }
      let start: number;
      if (depth === 0) {
        start = 0;
      } else if (position < path.length) {
        start = position + 1;
      } else {
        break;
      }
      const slash = path.indexOf('/', start);
      const end = slash < 0 ? path.length : slash;
      const segment = path.slice(start, end);
      node = ASCII_ONLY.test(segment) ? node.children.get(segment.toLowerCase()) : undefined;
      position = end;
      depth++;
    }
    return cookie ? 'user-cookie' : undefined;
  };
}
