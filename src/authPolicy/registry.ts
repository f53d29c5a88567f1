import { AuthPolicyError } from '../errors';
import { compilePolicyPath, PolicyPathSyntaxError, type CompiledPolicyPath } from './paths';

/**
 * What a policy lets through: `unauthenticated` skips the credentials check, `user-cookie` also accepts
 * limited-access user credentials (the Backstage user cookie).
 * @public
 */
export type AuthPolicyAccess = 'unauthenticated' | 'user-cookie';

/**
 * A policy as a plugin adds it with `http.addAuthPolicy`; `path` in route syntax, relative to the mount path.
 * @public
 */
export interface AuthPolicy {
  path: string;
  allow: AuthPolicyAccess;
}

const PATH_SYNTAX_HINT =
  "Accepted: path-to-regexp 8 syntax (':name', '*name', '{optional}') as upstream, or express 4 syntax (':name?', ':name(pattern)', '*'); see docs/auth-policy-paths.md";

/** A dot segment, plain or percent-encoded (`.`, `..`, `%2e`, `.%2E`, …), an encoded `/` or `\`, or a `\`. */
const AMBIGUOUS_PATH = /(^|\/)(\.|%2e){1,2}(\/|$)|%2f|%5c|\\/i;

/** Strictness of each answer: credentials required beats a cookie, which beats no credentials. */
const RANK = { required: 0, 'user-cookie': 1, unauthenticated: 2 } as const;

/** Policies whose literal prefix ends at this segment, and the segments below it. */
interface PrefixNode {
  policies: Array<{ compiled: CompiledPolicyPath; allow: AuthPolicyAccess }>;
  children: Map<string, PrefixNode>;
}

/** What a file server opens for `path`: `%2e`, `%2f`, `%5c` decoded, `\` as `/`, dot segments resolved. */
function resolveDotSegments(path: string): string {
  const segments: string[] = [];
  const decoded = path.replace(/%2e/gi, '.').replace(/%2f|%5c|\\/gi, '/');
  for (const segment of decoded.split('/').slice(1)) {
    if (segment === '..') segments.pop();
    else if (segment !== '.') segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/**
 * Creates a plugin's policy registry: a trie of literal prefix segments, so that a lookup tries only the policies
 * whose prefix the request has. `pluginId` names the plugin in error messages.
 */
export function createAuthPolicyRegistry(options: { pluginId?: string } = {}) {
  const { pluginId } = options;
  const policies: AuthPolicy[] = [];
  const root: PrefixNode = { policies: [], children: new Map() };
  let work = 0;

  const fail = (path: unknown, message: string, position?: number): never => {
    const hint = position === undefined ? undefined : PATH_SYNTAX_HINT;
    throw new AuthPolicyError({ pluginId, path, message, position, hint });
  };

  const lookupRaw = (path: string): AuthPolicyAccess | undefined => {
    let cookie = false;
    let node: PrefixNode | undefined = root;
    for (let start = 0; node;) {
      work++;
      for (const { compiled, allow } of node.policies) {
        if (allow === 'user-cookie' && cookie) continue;
        work++;
        if (!compiled.matches(path)) continue;
        if (allow === 'unauthenticated') return allow;
        cookie = true;
      }
      if (start > path.length) break;
      const slash = path.indexOf('/', start);
      const end = slash < 0 ? path.length : slash;
      node = node.children.get(path.slice(start, end));
      start = end + 1;
    }
    return cookie ? 'user-cookie' : undefined;
  };

  return {
    /** Validates and adds a policy; throws {@link AuthPolicyError} for a bad one. */
    add(policy: unknown): void {
      if (typeof policy !== 'object' || policy === null) {
        return fail(undefined, `expected an object { path, allow }, got ${String(policy)}`);
      }
      const { path, allow } = policy as Record<string, unknown>;
      if (typeof path !== 'string' || path === '')
        return fail(path, 'expected a non-empty string path');
      if (allow !== 'unauthenticated' && allow !== 'user-cookie') {
        const expected = "expected one of 'unauthenticated', 'user-cookie'";
        return fail(path, `'allow' is ${JSON.stringify(allow)}, ${expected}`);
      }
      let compiled: CompiledPolicyPath;
      try {
        compiled = compilePolicyPath(path);
      } catch (error) {
        if (error instanceof PolicyPathSyntaxError)
          return fail(path, error.message, error.position);
        throw error;
      }
      let node = root;
      for (const segment of compiled.prefix) {
        let child = node.children.get(segment);
        if (!child) node.children.set(segment, (child = { policies: [], children: new Map() }));
        node = child;
      }
      node.policies.push({ compiled, allow });
      policies.push({ path, allow });
    },
    /** What the policies ask of `req.path`: `unauthenticated` beats `user-cookie`; `undefined`: credentials. */
    lookup: function lookupAuthPolicy(path: string): AuthPolicyAccess | undefined {
      const access = lookupRaw(path);
      if (access === undefined || !AMBIGUOUS_PATH.test(path)) return access;
      const resolved = lookupRaw(resolveDotSegments(path));
      return RANK[resolved ?? 'required'] < RANK[access] ? resolved : access;
    },
    list: (): readonly AuthPolicy[] => policies,
    /** Prefix nodes visited plus policies tried by all lookups, so that tests can bound a lookup's cost. */
    get work() {
      return work;
    },
  };
}
