export { compilePolicyPath } from './paths';
export type { CompiledPolicyPath, PolicyPathSyntax } from './paths';
export { createAuthPolicyRegistry } from './registry';
export type { AuthPolicy, AuthPolicyAccess, AuthPolicyRegistry } from './registry';
