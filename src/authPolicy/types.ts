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
 * How a policy matches one request segment (the text between two `/`), or a run of them.
 *
 * @remarks
 * `literal` is the exact segment (case-sensitive); `param` any non-empty segment; `pattern` one whole segment
 * that `source` (run sticky at the `/` before the segment, or at 0 for the first) matches up to the segment's
 * end; `wildcard` one or more whole segments whose text, `/` included, is not empty.
 *
 * @internal
 */
export type SegmentStep =
  | { kind: 'literal'; value: string }
  | { kind: 'param' }
  | { kind: 'pattern'; source: string }
  | { kind: 'wildcard' };

/**
 * One way a policy path can match: segment steps, then an optional expression for the rest.
 *
 * @internal
 */
export interface CompiledBranch {
  /** What the request's first segments must be, in order. */
  steps: readonly SegmentStep[];
  /**
   * Regular expression source (run sticky, case-sensitive) for the rest of the path, starting right after the
   * steps' segments; `undefined` when the steps alone cover the request.
   */
  tail: string | undefined;
}

/**
 * A policy path turned into the branches the policy matcher indexes.
 *
 * @remarks
 * A request is covered when any branch matches it: its first segments (split on `/`) match the branch's steps,
 * and the branch's tail (if any) matches at the character right after them. When the path has captures, the
 * captures of `source`'s first match must then percent-decode, as Express 4 requires before it routes.
 *
 * @internal
 */
export interface CompiledPolicyPath {
  /** The path as the author wrote it. */
  path: string;
  /** The grammar the path was read with. */
  syntax: PolicyPathSyntax;
  /** The ways the path can match; optional groups give one branch per combination. */
  branches: readonly CompiledBranch[];
  /** The whole path as one regular expression source (case-sensitive), whose captures are decoded. */
  source: string;
  /** Whether `source` has capture groups whose values must percent-decode. */
  hasCaptures: boolean;
}
