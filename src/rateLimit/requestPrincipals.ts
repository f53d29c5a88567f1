import type { Request } from 'express';

/**
 * The verified principal each request is counted under, set by the per-principal limiter before it runs a
 * budget and read by that budget's key generator. Weak, so that a request is forgotten with it; nothing is
 * added to the request itself.
 */
const principals = new WeakMap<Request, string>();

/**
 * Records the principal a request is counted under.
 *
 * @internal
 */
export function setRequestPrincipal(req: Request, principal: string): void {
  principals.set(req, principal);
}

/**
 * The key generator of the user and service budgets: the principal recorded for the request.
 *
 * @remarks
 * A budget runs only after its principal was recorded; should that ever not hold, the request counts under one
 * shared key rather than escaping its budget.
 *
 * @internal
 */
export function requestPrincipalKey(req: Request): string {
  return principals.get(req) ?? 'unknown-principal';
}
