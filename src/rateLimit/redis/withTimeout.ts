/**
 * Settles like `promise`, or rejects with `onTimeout()` when `promise` has not settled after `timeoutMs`.
 *
 * @remarks
 * The timer is unref'd so that it never keeps the process alive, and it is cleared as soon as `promise` settles.
 * A late rejection of `promise` is still handled, so it cannot surface as an unhandled rejection. One promise and
 * one timer per call: the Redis store runs every count through here.
 *
 * @internal
 */
export function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    timer.unref();
    promise.then(
      value => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
