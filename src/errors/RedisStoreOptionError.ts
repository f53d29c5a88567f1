import { ERROR_CODES } from './codes';

/**
 * An option given to the Redis rate-limit store cannot be used.
 *
 * @remarks
 * The message names the option, the value received and what is accepted. A bad `timeoutMs` is thrown at
 * construction; a bad `connection` is logged at start-up instead, because the backend must keep serving.
 *
 * @public
 */
export class RedisStoreOptionError extends Error {
  readonly code = ERROR_CODES.redisStoreOption;
  /** The option at fault, for example `connection`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`Invalid Redis rate-limit store option '${option}': ${message}`);
    this.name = 'RedisStoreOptionError';
    this.option = option;
  }
}
