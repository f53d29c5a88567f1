export { createAuthPolicyRegistry } from './createAuthPolicyRegistry';
export type { AuthPolicyRegistry } from './createAuthPolicyRegistry';
export { compilePolicyPath } from './compilePolicyPath';
export { createPolicyMatcher } from './createPolicyMatcher';
export type { PolicyMatcher } from './createPolicyMatcher';
export { AUTH_POLICY_ACCESS_VALUES } from './types';
export type {
  AuthPolicy,
  AuthPolicyAccess,
  AuthPolicyLookup,
  CompiledBranch,
  CompiledPolicyPath,
  PolicyPathSyntax,
  SegmentStep,
} from './types';
