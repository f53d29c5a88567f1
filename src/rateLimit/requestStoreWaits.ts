import { AsyncLocalStorage } from 'node:async_hooks';

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

const current = new AsyncLocalStorage<{ req: object; waits: RequestStoreWaits }>();

/**
 * Runs `fn` (a limiter handling `req`) with the store waits of `req`: those already begun by an earlier limiter
 * of the same request (the root router's, then a plugin router's), or new ones.
 *
 * @remarks
 * The stores cannot see the request (express-rate-limit hands them a key only), so the waits travel in the
 * asynchronous context. If express-rate-limit passed the request (or a deadline) to the store, this would be
 * unnecessary.
 *
 * @internal
 */
export function withRequestStoreWaits(req: object, fn: () => void): void {
  const active = current.getStore();
  if (active?.req === req) {
    fn();
    return;
  }
  current.run({ req, waits: new RequestStoreWaits() }, fn);
}

/**
 * The store waits of the request being limited, or none outside a limiter of this package (a store used with
 * `rateLimit()` directly).
 *
 * @internal
 */
export function currentRequestStoreWaits(): RequestStoreWaits | undefined {
  return current.getStore()?.waits;
}
