/**
 * What a policy lets through on its paths: `unauthenticated` skips the credentials check, `user-cookie` also
 * accepts limited-access user credentials (the Backstage user cookie).
 *
 * @public
 */
export type AuthPolicyAccess = 'unauthenticated' | 'user-cookie';

/** The values accepted for a policy's `allow`, in the order error messages list them. */
export const AUTH_POLICY_ACCESS_VALUES: readonly AuthPolicyAccess[] = [
  'unauthenticated',
  'user-cookie',
];

/**
 * A policy as a plugin adds it with `http.addAuthPolicy`.
 *
 * @public
 */
export interface AuthPolicy {
  /** A path in route syntax, relative to the plugin's mount path. */
  path: string;
  allow: AuthPolicyAccess;
}

/** Which compiler read a path: none for `'/'` and `'*'`, upstream's, or the one of express 4's `router.use`. */
export type PolicyPathSyntax = 'everything' | 'path-to-regexp-8' | 'express-4';

/** A route-syntax path compiled once, to be tested against many request paths. */
export interface CompiledPolicyPath {
  path: string;
  syntax: PolicyPathSyntax;
  /** Whole segments every covered request path starts with (`['', 'users']` for `/users/:id`); may be fewer. */
  prefix: readonly string[];
  /** Whether the path covers `req.path`: a case-sensitive prefix match on segment boundaries. */
  matches(requestPath: string): boolean;
}
