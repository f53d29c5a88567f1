import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';

/** The window until `init` is called: express-rate-limit's default of one minute. */
const DEFAULT_WINDOW_MS = 60_000;

/** The longest window the memory store can sweep: the longest delay `setInterval` accepts (about 24 days). */
const MAX_WINDOW_MS = 2 ** 31 - 1;

/** One client's count in the current window, and when that window ends. */
interface Counter {
  totalHits: number;
  resetTime: Date;
}

/**
 * The memory store: express-rate-limit's `Store` with every method present and synchronous.
 *
 * @public
 */
export interface MemoryRateLimitStore extends Store {
  readonly localKeys: true;
  init(options: Options): void;
  get(key: string): ClientRateLimitInfo | undefined;
  increment(key: string): ClientRateLimitInfo;
  decrement(key: string): void;
  resetKey(key: string): void;
  resetAll(): void;
  shutdown(): void;
}

/**
 * Counts hits in this process: a fixed window per client, started by its first hit.
 *
 * @remarks
 * Follows the same contract and the same windows as express-rate-limit's `MemoryStore`, with two differences:
 * every method answers synchronously, so that the limiter can pass a request on without waiting for a promise;
 * and `increment` returns the count of that very hit, where `MemoryStore` returns its live record, which a
 * later hit may change before the limiter reads it.
 *
 * Clients are kept in two maps: those seen in this sweep period and those seen only in the one before. Every
 * window, the older map is dropped, so a client that sent nothing for a whole window is forgotten and memory
 * stays bounded by the clients of the last two windows.
 */
class InProcessRateLimitStore implements MemoryRateLimitStore {
  /** Counts live in this process: another instance, or another store, never sees them. */
  readonly localKeys = true;

  #windowMs = DEFAULT_WINDOW_MS;
  #current = new Map<string, Counter>();
  #previous = new Map<string, Counter>();
  #sweeper: NodeJS.Timeout | undefined;

  init(options: Options): void {
    const { windowMs } = options;
    // Beyond 2^31-1 ms, or for 0 or NaN, setInterval fires every millisecond: every count would be forgotten.
    if (!Number.isFinite(windowMs) || windowMs <= 0 || windowMs > MAX_WINDOW_MS) {
      throw new RangeError(
        `The memory rate-limit store needs a window of 1 to ${MAX_WINDOW_MS} ms, got ${windowMs}`,
      );
    }
    this.#windowMs = windowMs;
    clearInterval(this.#sweeper);
    this.#sweeper = setInterval(() => this.#sweep(), this.#windowMs);
    this.#sweeper.unref();
  }

  get(key: string): ClientRateLimitInfo | undefined {
    const counter = this.#current.get(key) ?? this.#previous.get(key);
    if (counter === undefined || counter.resetTime.getTime() <= Date.now()) {
      return undefined;
    }
    return { totalHits: counter.totalHits, resetTime: counter.resetTime };
  }

  increment(key: string): ClientRateLimitInfo {
    const counter = this.#counterOf(key);
    const now = Date.now();
    if (counter.resetTime.getTime() <= now) {
      counter.totalHits = 0;
      counter.resetTime = new Date(now + this.#windowMs);
    }
    counter.totalHits++;
    return { totalHits: counter.totalHits, resetTime: counter.resetTime };
  }

  decrement(key: string): void {
    const counter = this.#current.get(key) ?? this.#previous.get(key);
    if (counter !== undefined && counter.totalHits > 0) {
      counter.totalHits--;
    }
  }

  resetKey(key: string): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  resetAll(): void {
    this.#current.clear();
    this.#previous.clear();
  }

  shutdown(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.resetAll();
  }

  /** The client's counter, moved into the current map; a new one, already expired, for a client not seen. */
  #counterOf(key: string): Counter {
    let counter = this.#current.get(key);
    if (counter !== undefined) {
      return counter;
    }
    counter = this.#previous.get(key);
    if (counter === undefined) {
      counter = { totalHits: 0, resetTime: new Date(0) };
    } else {
      this.#previous.delete(key);
    }
    this.#current.set(key, counter);
    return counter;
  }

  #sweep(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }
}

/**
 * Creates a store that counts hits in this process, for one limiter.
 *
 * @remarks
 * Used for `store: { type: memory }`, and by the Redis store while Redis cannot count. Its windows are those of
 * express-rate-limit's `MemoryStore`, and it answers synchronously (see {@link createRateLimitHandler}, which
 * then passes a request on without waiting for a promise). Its sweep timer starts at `init` (which the limiter
 * calls), is unref'd so that it never holds the process open, and stops at `shutdown()`.
 *
 * @public
 */
export function createMemoryRateLimitStore(): MemoryRateLimitStore {
  return new InProcessRateLimitStore();
}
