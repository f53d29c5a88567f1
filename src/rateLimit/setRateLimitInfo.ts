import type { Request } from 'express';

/** The property express-rate-limit leaves its counts on, and so do we. */
const PROPERTY = 'rateLimit';

/** Each request's counts, read through the `rateLimit` accessor. */
const infoByRequest = new WeakMap<object, unknown>();

/** Per request prototype: whether its requests read `rateLimit` through the accessor (else an own property). */
const usesAccessor = new WeakMap<object, boolean>();

const accessor: PropertyDescriptor = {
  get(this: object) {
    return infoByRequest.get(this);
  },
  set(this: object, value: unknown) {
    infoByRequest.set(this, value);
  },
  configurable: true,
  enumerable: false,
};

/**
 * Leaves a request's rate-limit counts on `req.rateLimit`, as express-rate-limit does, without adding a property
 * to the request.
 *
 * @remarks
 * Adding a property to every request object cost the limiter more than everything else it does per request
 * (about 80,000 of its 130,000 instructions, counted by `npm run bench:instructions`). So for requests of an
 * express app, `rateLimit` is an accessor backed by a `WeakMap`, which lets go of the counts with the request. It
 * sits on express's shared request prototype (the one every app's `app.request` inherits from), so that the value
 * stays visible when the request passes through a sub-app, however it is mounted. Reading and assigning
 * `req.rateLimit` works as before, for this limiter, for express-rate-limit's middleware and for user code.
 *
 * Differences from an own property: it is not enumerable (`{ ...req }` and `Object.keys(req)` leave it out), and
 * `'rateLimit' in req` is true for every express request, counted or not. A request that already has its own
 * `rateLimit` keeps it, updated; so does one whose prototype chain has a `rateLimit` of someone else's, and a
 * request that is not an express app's (no `app` on its prototype).
 *
 * @param req - The request being counted.
 * @param info - Its counts.
 * @internal
 */
export function setRateLimitInfo(req: Request, info: unknown): void {
  if (Object.prototype.hasOwnProperty.call(req, PROPERTY)) {
    setOwn(req, info);
    return;
  }
  const prototype = Object.getPrototypeOf(req) as object | null;
  if (prototype === null) {
    setOwn(req, info);
    return;
  }
  let viaAccessor = usesAccessor.get(prototype);
  if (viaAccessor === undefined) {
    viaAccessor = installAccessor(prototype);
    usesAccessor.set(prototype, viaAccessor);
  }
  if (viaAccessor) {
    infoByRequest.set(req, info);
  } else {
    setOwn(req, info);
  }
}

/**
 * Finds express's shared request prototype above an app's request prototype and puts the accessor there (once);
 * `false` when the request is not an express app's, or a `rateLimit` of someone else's is in the way.
 */
function installAccessor(prototype: object): boolean {
  // An app's request prototype owns `app`; the prototypes of sub-apps mounted with app.use inherit from their
  // parent's, and all of them from express's shared one, which owns no `app`.
  let shared: object | null = prototype;
  let appPrototypes = 0;
  while (shared !== null && Object.prototype.hasOwnProperty.call(shared, 'app')) {
    if (Object.prototype.hasOwnProperty.call(shared, PROPERTY)) {
      return false;
    }
    appPrototypes += 1;
    shared = Object.getPrototypeOf(shared) as object | null;
  }
  if (appPrototypes === 0 || shared === null) {
    return false;
  }
  const existing = Object.getOwnPropertyDescriptor(shared, PROPERTY);
  if (existing !== undefined) {
    return existing.get === accessor.get;
  }
  if (PROPERTY in shared || !Object.isExtensible(shared)) {
    return false;
  }
  Object.defineProperty(shared, PROPERTY, accessor);
  return true;
}

/** An own, plain property, as express-rate-limit sets it; defined rather than assigned, past any setter. */
function setOwn(req: Request, info: unknown): void {
  Object.defineProperty(req, PROPERTY, {
    value: info,
    writable: true,
    configurable: true,
    enumerable: true,
  });
}
