/**
 * A policy path that cannot be read, with where the problem is.
 *
 * @remarks
 * Thrown by the path compilers; {@link createAuthPolicyRegistry} turns it into an `AuthPolicyError` that names
 * the plugin.
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
