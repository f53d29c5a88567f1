import { AuthPolicyError } from '../errors';
import { compilePolicyPath } from './compilePolicyPath';
import { AUTH_POLICY_ACCESS_VALUES } from './types';
import type { AuthPolicy, AuthPolicyAccess, AuthPolicyLookup } from './types';

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
 * @param options - `pluginId` names the plugin in error messages.
 * @internal
 */
export function createAuthPolicyRegistry(options: { pluginId?: string } = {}): AuthPolicyRegistry {
  const { pluginId } = options;
  const policies: AuthPolicy[] = [];
  const unauthenticated: Array<(path: string) => boolean> = [];
  const userCookie: Array<(path: string) => boolean> = [];

  const fail = (path: unknown, message: string): never => {
    throw new AuthPolicyError({ pluginId, path, message });
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
      let predicate: (requestPath: string) => boolean;
      try {
        predicate = compilePolicyPath(path as string);
      } catch (error) {
        return fail(path, (error as Error).message);
      }
      (allow === 'unauthenticated' ? unauthenticated : userCookie).push(predicate);
      policies.push({ path: path as string, allow: allow as AuthPolicyAccess });
    },
    lookup(path) {
      if (unauthenticated.some(covers => covers(path))) {
        return 'unauthenticated';
      }
      if (userCookie.some(covers => covers(path))) {
        return 'user-cookie';
      }
      return undefined;
    },
    list() {
      return policies;
    },
  };
}
