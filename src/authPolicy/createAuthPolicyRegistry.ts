import { AuthPolicyError } from '../errors';
import { compilePolicyPath } from './compilePolicyPath';
import { createPolicyMatcher } from './createPolicyMatcher';
import { PolicyPathSyntaxError } from '../errors';
import { AUTH_POLICY_ACCESS_VALUES } from './types';
import type { AuthPolicy, AuthPolicyAccess, AuthPolicyLookup, CompiledPolicyPath } from './types';

/** What an unreadable path's error adds about the syntax that is accepted. */
const PATH_SYNTAX_HINT =
  "Accepted: literal segments, ':name', ':name?', ':name(pattern)', '*', '*name', '{optional}' groups (see docs/auth-policy-paths.md)";

/**
 * A plugin's auth policies: validated when added, looked up per request.
 *
 * @internal
 */
export interface AuthPolicyRegistry {
  /** Validates and adds a policy; later lookups see it. Throws {@link AuthPolicyError} for a bad policy. */
  add(policy: unknown): void;
  /** Which access the policies give a request path. */
  lookup: AuthPolicyLookup;
  /** The policies added so far, in order. */
  list(): readonly AuthPolicy[];
}

/**
 * Creates an empty policy registry for one plugin.
 *
 * @remarks
 * Paths are read by {@link compilePolicyPath} and indexed in one matcher ({@link createPolicyMatcher}): adding a
 * policy costs the same however many the plugin already has, and so does a lookup, whatever their shape (see
 * docs/auth-policy-paths.md for the shapes that are tried one by one).
 *
 * @param options - `pluginId` names the plugin in error messages.
 * @internal
 */
export function createAuthPolicyRegistry(options: { pluginId?: string } = {}): AuthPolicyRegistry {
  const { pluginId } = options;
  const policies: AuthPolicy[] = [];
  const matcher = createPolicyMatcher();

  const fail = (path: unknown, message: string, position?: number): never => {
    throw new AuthPolicyError({
      pluginId,
      path,
      message,
      position,
      hint: position === undefined ? undefined : PATH_SYNTAX_HINT,
    });
  };

  return {
    add(policy) {
      if (typeof policy !== 'object' || policy === null) {
        fail(undefined, `expected an object { path, allow }, got ${String(policy)}`);
      }
      const { path, allow } = policy as Record<string, unknown>;
      if (typeof path !== 'string' || path === '') {
        fail(path, 'expected a non-empty string path');
      }
      if (!AUTH_POLICY_ACCESS_VALUES.includes(allow as AuthPolicyAccess)) {
        fail(
          path,
          `'allow' is ${JSON.stringify(allow)}, expected one of ${AUTH_POLICY_ACCESS_VALUES.map(v => `'${v}'`).join(', ')}`,
        );
      }
      let entry: CompiledPolicyPath;
      try {
        entry = compilePolicyPath(path as string);
      } catch (error) {
        if (error instanceof PolicyPathSyntaxError) {
          return fail(path, error.message, error.position);
        }
        throw error;
      }
      matcher.add(entry, allow as AuthPolicyAccess);
      policies.push({ path: path as string, allow: allow as AuthPolicyAccess });
    },
    lookup: matcher.lookup,
    list() {
      return policies;
    },
  };
}
