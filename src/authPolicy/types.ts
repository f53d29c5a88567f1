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
