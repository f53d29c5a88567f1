export { compilePolicyPath } from './paths';
export { createAuthPolicyRegistry } from './registry';
export type { AuthPolicyRegistry } from './registry';
export { AUTH_POLICY_ACCESS_VALUES } from './types';
export type { AuthPolicy, AuthPolicyAccess, CompiledPolicyPath, PolicyPathSyntax } from './types';
