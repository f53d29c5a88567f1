import type { Request } from 'express';
import type { Store } from 'express-rate-limit';

/**
 * How long one request has waited for its rate-limit stores so far, across every limiter and budget it crosses.
 *
 * @remarks
 * Counts wall-clock time during which at least one store operation of the request was pending, so that reads
 * run in parallel are counted once, and time spent elsewhere (verifying credentials) not at all.
 *
 * @internal
 */
export class RequestStoreWaits {
  #pending = 0;
  #since = 0;
  #spentMs = 0;

  /** What is left of `limitMs` for the next wait; zero or less when it is spent. */
  remainingMs(limitMs: number): number {
    const running = this.#pending > 0 ? Date.now() - this.#since : 0;
    return limitMs - this.#spentMs - running;
  }

  /** Counts the time until `wait` settles as time this request waited. */
  track<T>(wait: Promise<T>): Promise<T> {
    if (this.#pending === 0) {
      this.#since = Date.now();
    }
    this.#pending += 1;
    const done = () => {
      this.#pending -= 1;
      if (this.#pending === 0) {
        this.#spentMs += Date.now() - this.#since;
      }
    };
    return wait.finally(done);
  }
}

const byRequest = new WeakMap<object, RequestStoreWaits>();

/** The waits of the store operation being started, set only for the synchronous start of that operation. */
let current: RequestStoreWaits | undefined;

/**
 * The store waits of `req`: the same for every limiter and budget the request crosses (the root router's, then a
 * plugin router's), created on first use.
 *
 * @internal
 */
export function storeWaitsOf(req: object): RequestStoreWaits {
  let waits = byRequest.get(req);
  if (!waits) {
    waits = new RequestStoreWaits();
    byRequest.set(req, waits);
  }
  return waits;
}

/**
 * Starts a store operation (`fn`) with `waits` readable by {@link currentRequestStoreWaits}.
 *
 * @remarks
 * The stores cannot see the request (express-rate-limit hands them a key only), and the Redis store reads the
 * waits synchronously when an operation starts. A synchronous hand-off costs nothing per request, where an
 * `AsyncLocalStorage` would switch on Node's promise hooks for every promise in the process. If express-rate-limit
 * passed the request (or a deadline) to the store, this would be unnecessary.
 *
 * @internal
 */
export function callWithStoreWaits<T>(waits: RequestStoreWaits | undefined, fn: () => T): T {
  const previous = current;
  current = waits;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/**
 * The store waits of the store operation being started, or none outside a limiter of this package (a store used
 * with `rateLimit()` directly).
 *
 * @internal
 */
export function currentRequestStoreWaits(): RequestStoreWaits | undefined {
  return current;
}

/**
 * Gives `rateLimit()` a key generator and a store that carry each request's waits from the one to the other.
 *
 * @remarks
 * `rateLimit()` calls the key generator, then, one await later, the store's `increment` with that key; every
 * request takes the same steps in between, so the increments of one key come in the order of its key
 * generations, and a queue per key hands each request its own waits.
 *
 * @internal
 */
export function carryStoreWaits(
  keyOf: (req: Request) => string,
  store: Store,
): { keyGenerator: (req: Request) => string; store: Store } {
  const queued = new Map<string, RequestStoreWaits[]>();
  const take = (key: string): RequestStoreWaits | undefined => {
    const queue = queued.get(key);
    const waits = queue?.shift();
    if (queue?.length === 0) {
      queued.delete(key);
    }
    return waits;
  };
  return {
    keyGenerator(req) {
      const key = keyOf(req);
      const queue = queued.get(key);
      if (queue) {
        queue.push(storeWaitsOf(req));
      } else {
        queued.set(key, [storeWaitsOf(req)]);
      }
      return key;
    },
    store: {
      get localKeys() {
        return store.localKeys;
      },
      get prefix() {
        return store.prefix;
      },
      init: store.init?.bind(store),
      get: store.get?.bind(store),
      increment: key => callWithStoreWaits(take(key), () => store.increment(key)),
      decrement: store.decrement.bind(store),
      resetKey: store.resetKey.bind(store),
      resetAll: store.resetAll?.bind(store),
      shutdown: store.shutdown?.bind(store),
    },
  };
}
