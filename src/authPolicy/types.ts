/**
 * What an auth policy lets through on the paths it covers.
 *
 * @remarks
 * `unauthenticated` skips the credentials check; `user-cookie` also accepts limited-access user credentials
 * (the Backstage user cookie).
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
  /** What the policy lets through on the paths it covers. */
  allow: AuthPolicyAccess;
}

/**
 * Tells which access a request path has been given by a plugin's policies.
 *
 * @remarks
 * Answers `unauthenticated` when any `unauthenticated` policy covers the path (it wins over `user-cookie`),
 * `user-cookie` when only such policies cover it, and `undefined` when none does.
 *
 * @internal
 */
export type AuthPolicyLookup = (path: string) => AuthPolicyAccess | undefined;

/**
 * Which grammar a policy path was read with.
 *
 * @remarks
 * `everything` is `'/'` or `'*'`; `path-to-regexp-8` is upstream's syntax and meaning; `express-4` is a path that
 * only Express 4's router understands, matched the way `router.use(path)` matches it.
 *
 * @internal
 */
export type PolicyPathSyntax = 'everything' | 'path-to-regexp-8' | 'express-4';

/**
 * A policy path turned into the pieces the policy matcher indexes.
 *
 * @remarks
 * A request is covered when its first segments (split on `/`) equal {@link CompiledPolicyPath.prefix}, compared
 * ASCII case-insensitively, and {@link CompiledPolicyPath.tail} (if any) matches at the character right after
 * those segments. Every capture group of the tail must then percent-decode.
 *
 * @internal
 */
export interface CompiledPolicyPath {
  /** The path as the author wrote it. */
  path: string;
  /** The grammar the path was read with. */
  syntax: PolicyPathSyntax;
  /** Leading literal segments, lower-cased ASCII; the first one is `''` for a path starting with `/`. */
  prefix: readonly string[];
  /** Regular expression source (flags `i`, run sticky) for the rest of the path, or `undefined` when none. */
  tail: string | undefined;
  /** Whether the tail has capture groups whose values must percent-decode. */
  hasCaptures: boolean;
}
