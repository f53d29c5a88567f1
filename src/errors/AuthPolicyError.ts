import { ERROR_CODES } from './codes';

/**
 * Thrown by `addAuthPolicy` when a policy cannot be used.
 *
 * @remarks
 * The message names the plugin, the policy path and what is wrong with it.
 *
 * @public
 */
export class AuthPolicyError extends Error {
  readonly code = ERROR_CODES.authPolicy;
  /** The plugin the policy was added for, when known. */
  readonly pluginId: string | undefined;
  /** The policy path as the author wrote it. */
  readonly path: unknown;
  /** Zero-based index in the path of the problem, when the path could not be read. */
  readonly position: number | undefined;

  constructor(details: {
    pluginId?: string;
    path: unknown;
    message: string;
    position?: number;
    hint?: string;
  }) {
    const where = details.pluginId ? ` for plugin '${details.pluginId}'` : '';
    const at = details.position === undefined ? '' : ` (at position ${details.position})`;
    const hint = details.hint ? `. ${details.hint}` : '';
    super(
      `Invalid auth policy${where} with path ${JSON.stringify(details.path)}: ${details.message}${at}${hint}`,
    );
    this.name = 'AuthPolicyError';
    this.pluginId = details.pluginId;
    this.path = details.path;
    this.position = details.position;
  }
}
