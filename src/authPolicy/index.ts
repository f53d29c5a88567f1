export { createAuthPolicyRegistry } from './createAuthPolicyRegistry';
export type { AuthPolicyRegistry } from './createAuthPolicyRegistry';
export { AUTH_POLICY_ACCESS_VALUES } from './types';
export type { AuthPolicy, AuthPolicyAccess, AuthPolicyLookup } from './types';
