/**
 * Settles like `promise`, or rejects with `onTimeout()` when `promise` has not settled after `timeoutMs`.
 *
 * @remarks
 * The timer is unref'd so that it never keeps the process alive, and it is cleared as soon as `promise` settles.
 * A late rejection of `promise` is still handled, so it cannot surface as an unhandled rejection.
 *
 * @internal
 */
export function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
