/** Errors whose cause was already reported in the log, once for many requests. */
const alreadyLogged = new WeakSet<object>();

/**
 * Marks an error as already reported, so that the error handler answers it without a log line of its own.
 *
 * @remarks
 * For refusals that come in floods from one known cause (a Redis outage while the store fails closed, a
 * shutdown): the cause is logged once when it starts, and a line for every refused request would bury it. A
 * `WeakSet` rather than a property on the error, so that the mark never shows in the serialized response body.
 *
 * @param error - The error to mark.
 * @returns The same error.
 * @internal
 */
export function markAsLogged<T extends Error>(error: T): T {
  alreadyLogged.add(error);
  return error;
}

/**
 * Whether {@link markAsLogged} marked this error.
 *
 * @internal
 */
export function isMarkedAsLogged(error: unknown): boolean {
  return typeof error === 'object' && error !== null && alreadyLogged.has(error);
}
