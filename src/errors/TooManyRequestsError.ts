import { CustomErrorBase } from '@backstage/errors';

/**
 * Passed to `next` by the rate limiter when a client has used up its requests for the current window.
 *
 * @remarks
 * `@backstage/errors` has no 429 error, so this one carries its status in `statusCode`, which both this
 * package's error handler and the one of Backstage's root router answer with. `statusCode` and
 * `retryAfterSeconds` are getters so that they stay out of the serialized error body, which is
 * `{ name: 'TooManyRequestsError', message }` as for any other Backstage error.
 *
 * @public
 */
export class TooManyRequestsError extends CustomErrorBase {
  override name = 'TooManyRequestsError' as const;
  readonly #retryAfterSeconds: number;

  constructor(message: string, options: { retryAfterSeconds: number }) {
    super(message);
    this.#retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The HTTP status for this error: always 429. */
  get statusCode(): 429 {
    return 429;
  }

  /** How long, in seconds, the client should wait before it tries again; also sent as `Retry-After`. */
  get retryAfterSeconds(): number {
    return this.#retryAfterSeconds;
  }
}
