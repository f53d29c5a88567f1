/**
 * A policy path that cannot be read, with where the problem is.
 *
 * @remarks
 * Thrown by `compilePolicyPath`; its caller wraps it in an error that names the plugin or config key (the policy
 * registry in an `AuthPolicyError`).
 *
 * @internal
 */
export class PolicyPathSyntaxError extends Error {
  /** Zero-based index in the path of the character that could not be read. */
  readonly position: number;

  constructor(message: string, position: number) {
    super(message);
    this.name = 'PolicyPathSyntaxError';
    this.position = position;
  }
}
