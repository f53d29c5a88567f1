import type { AuthPolicyAccess, AuthPolicyLookup } from '../authPolicy/types';

/** A dot segment, plain or percent-encoded (`.`, `..`, `%2e`, `.%2E`, …), an encoded `/` or `\`, or a `\`. */
const AMBIGUOUS_PATH = /(^|\/)(\.|%2e){1,2}(\/|$)|%2f|%5c|\\/i;

/** Strictness of each answer: credentials required beats a cookie, which beats no credentials. */
const RANK: Record<AuthPolicyAccess | 'required', number> = {
  required: 0,
  'user-cookie': 1,
  unauthenticated: 2,
};

/**
 * The path a file server would open for `path`: `%2e`, `%2f` and `%5c` decoded, `\` read as `/`, and dot segments
 * resolved (never above the root).
 */
function resolveDotSegments(path: string): string {
  const decoded = path.replace(/%2e/gi, '.').replace(/%2f|%5c|\\/gi, '/');
  const segments: string[] = [];
  for (const segment of decoded.split('/').slice(1)) {
    if (segment === '..') {
      segments.pop();
    } else if (segment !== '.') {
      segments.push(segment);
    }
  }
  return `/${segments.join('/')}`;
}

/**
 * What the auth policies ask of a request path, looking through dot segments and encoded slashes.
 *
 * @remarks
 * The policies match the raw path, as express routes it. A static file handler mounted above an opened prefix
 * resolves `/static/../secret.txt` (or `%2e%2e`, or `..%2f`) to a file outside it, so such a path is opened only
 * as far as the path it resolves to is opened too: the stricter of the two answers applies. Upstream matches the
 * raw path only.
 *
 * @param lookup - The policy registry's lookup.
 * @param path - The request path within the plugin (`req.path`).
 * @internal
 */
export function lookupPathAccess(
  lookup: AuthPolicyLookup,
  path: string,
): AuthPolicyAccess | undefined {
  const access = lookup(path);
  if (access === undefined || !AMBIGUOUS_PATH.test(path)) {
    return access;
  }
  const resolved = lookup(resolveDotSegments(path));
  return RANK[resolved ?? 'required'] < RANK[access] ? resolved : access;
}
