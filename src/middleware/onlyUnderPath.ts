import type { RequestHandler } from 'express';

/**
 * Calls `handler` only for requests whose path starts with `prefix`, ignoring case, and passes others on.
 *
 * @remarks
 * For routers whose routes all live under one prefix, such as the auth integration and cookie routes under
 * `/.backstage/auth/v1/`: express matches routes case-insensitively on the raw path, so no request outside the
 * prefix could reach one of them, and skipping the router saves its route matching on every other request.
 *
 * @param prefix - A lower-case path prefix.
 * @param handler - The router to guard.
 * @internal
 */
export function onlyUnderPath(prefix: string, handler: RequestHandler): RequestHandler {
  const length = prefix.length;
  return function underPath(req, res, next) {
    const path = req.path;
    if (path.length >= length && path.slice(0, length).toLowerCase() === prefix) {
      handler(req, res, next);
    } else {
      next();
    }
  };
}
