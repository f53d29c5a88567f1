import { ERROR_CODES } from './codes';

/**
 * Thrown at start-up when a configuration value cannot be used.
 *
 * @remarks
 * The message names the full config key, the value that was read and what is accepted.
 *
 * @public
 */
export class HttpRouterConfigError extends Error {
  readonly code = ERROR_CODES.config;
  /** The full config key, for example `backend.rateLimit.window`. */
  readonly key: string;

  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(`Invalid config at '${key}': ${message}`, options);
    this.name = 'HttpRouterConfigError';
    this.key = key;
  }
}
