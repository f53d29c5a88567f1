import type { Request } from 'express';

/** The property express-rate-limit leaves its counts on, and so do we. */
const PROPERTY = 'rateLimit';

/** Each request's counts, read through the `rateLimit` accessor of its prototype. */
const infoByRequest = new WeakMap<object, unknown>();

/** Per request prototype: whether `rateLimit` is our accessor there, or requests get an own property. */
const modeByPrototype = new WeakMap<object, 'accessor' | 'own'>();

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
 * (about 80,000 of its 130,000 instructions, counted by `npm run bench:instructions`): V8 does not keep request
 * objects, with the many properties express gives them, in a shape where one more property is cheap. So
 * `rateLimit` is an accessor on the request's prototype (express's per-app `app.request`, installed there on
 * first use) backed by a `WeakMap`, which lets go of the counts with the request. Reading and assigning
 * `req.rateLimit` works as before, for this limiter, for express-rate-limit's middleware elsewhere and for
 * user code. A request that already has its own `rateLimit` property keeps it, updated; so does a request whose
 * prototype has a `rateLimit` of someone else's. Unlike express-rate-limit's, the accessor is not enumerable.
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
  let mode = prototype === null ? 'own' : modeByPrototype.get(prototype);
  if (mode === undefined) {
    mode = installAccessor(prototype!);
    modeByPrototype.set(prototype!, mode);
  }
  if (mode === 'accessor') {
    infoByRequest.set(req, info);
  } else {
    setOwn(req, info);
  }
}

/** Puts the accessor on a prototype that has no `rateLimit` of its own; one that has keeps it. */
function installAccessor(prototype: object): 'accessor' | 'own' {
  const existing = Object.getOwnPropertyDescriptor(prototype, PROPERTY);
  if (existing !== undefined) {
    return existing.get === accessor.get ? 'accessor' : 'own';
  }
  if (!Object.isExtensible(prototype)) {
    return 'own';
  }
  Object.defineProperty(prototype, PROPERTY, accessor);
  return 'accessor';
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
