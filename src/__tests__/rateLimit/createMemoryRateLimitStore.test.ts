import { MemoryStore, type Options, type Store } from 'express-rate-limit';
import { createMemoryRateLimitStore } from '../../rateLimit/createMemoryRateLimitStore';

const WINDOW_MS = 60_000;

function started(store: Store, windowMs = WINDOW_MS): Store {
  store.init?.({ windowMs } as Options);
  return store;
}

describe('createMemoryRateLimitStore', () => {
  let store: Store;

  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    store = started(createMemoryRateLimitStore());
  });

  afterEach(() => {
    store.shutdown?.();
    jest.useRealTimers();
  });

  it('answers at once, with the count of that very hit', () => {
    const first = store.increment('a');
    const second = store.increment('a');
    // Not promises, and the first answer is not changed by the second hit.
    expect(first).toEqual({ totalHits: 1, resetTime: new Date(Date.now() + WINDOW_MS) });
    expect(second).toEqual({ totalHits: 2, resetTime: new Date(Date.now() + WINDOW_MS) });
  });

  it('counts each key on its own', () => {
    store.increment('a');
    store.increment('a');
    expect(store.increment('b')).toMatchObject({ totalHits: 1 });
    expect(store.get?.('a')).toMatchObject({ totalHits: 2 });
    expect(store.get?.('unknown')).toBeUndefined();
  });

  it('starts a new window, from the next hit, once the window has passed', () => {
    store.increment('a');
    jest.advanceTimersByTime(WINDOW_MS - 1);
    expect(store.increment('a')).toMatchObject({ totalHits: 2 });
    jest.advanceTimersByTime(1);
    expect(store.get?.('a')).toBeUndefined();
    jest.advanceTimersByTime(5_000);
    expect(store.increment('a')).toEqual({
      totalHits: 1,
      resetTime: new Date(Date.now() + WINDOW_MS),
    });
  });

  it('takes back a hit, never below zero, and forgets a key on resetKey', () => {
    store.increment('a');
    store.decrement('a');
    store.decrement('a');
    expect(store.get?.('a')).toMatchObject({ totalHits: 0 });
    expect(store.increment('a')).toMatchObject({ totalHits: 1 });
    store.resetKey('a');
    expect(store.get?.('a')).toBeUndefined();
  });

  it('keeps counting a window that runs across a sweep', () => {
    jest.advanceTimersByTime(WINDOW_MS / 2);
    store.increment('a');
    // The sweep at one window moves 'a' aside; its window runs on until one and a half.
    jest.advanceTimersByTime(WINDOW_MS / 2 + 10_000);
    expect(store.get?.('a')).toMatchObject({ totalHits: 1 });
    expect(store.increment('a')).toMatchObject({ totalHits: 2 });
    store.decrement('a');
    expect(store.get?.('a')).toMatchObject({ totalHits: 1 });
  });

  it('does not start a window when taking back a hit of a client it does not know', () => {
    store.decrement('unknown');
    expect(store.get?.('unknown')).toBeUndefined();
    jest.advanceTimersByTime(30_000);
    expect(store.increment('unknown')).toEqual({
      totalHits: 1,
      resetTime: new Date(Date.now() + WINDOW_MS),
    });
  });

  it('runs a sweep timer that never holds the process open, and stops it at shutdown', () => {
    expect(jest.getTimerCount()).toBe(1);
    store.increment('a');
    store.shutdown?.();
    expect(jest.getTimerCount()).toBe(0);
    expect(store.get?.('a')).toBeUndefined();
  });

  it.each([0, -1, Number.NaN, 2 ** 31])(
    'refuses a window of %p ms, which its sweep timer could not keep',
    windowMs => {
      expect(() => createMemoryRateLimitStore().init?.({ windowMs } as Options)).toThrow(
        new RangeError(
          `The memory rate-limit store needs a window of 1 to ${2 ** 31 - 1} ms, got ${windowMs}`,
        ),
      );
    },
  );

  it('never holds the process open with its timer', () => {
    jest.useRealTimers();
    const timers = () => process.getActiveResourcesInfo().filter(type => type === 'Timeout').length;
    const before = timers();
    const real = started(createMemoryRateLimitStore());
    try {
      expect(timers()).toBe(before);
    } finally {
      real.shutdown?.();
    }
  });

  it("answers what express-rate-limit's MemoryStore answers, hit for hit, across windows and sweeps", async () => {
    const reference = started(new MemoryStore());
    try {
      // A fixed pseudo-random walk over a few keys and times, so that windows start and end mid-sequence.
      let seed = 42;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      for (let step = 0; step < 2_000; step++) {
        const key = `client-${Math.floor(random() * 4)}`;
        const action = random();
        if (action < 0.7) {
          const ours = store.increment(key);
          const theirs = await reference.increment(key);
          expect(ours).toEqual({ totalHits: theirs.totalHits, resetTime: theirs.resetTime });
        } else if (action < 0.9) {
          // As the limiter does: it takes back a hit only within the window that counted it. (For a key with no
          // live window, express-rate-limit's store starts one on decrement; this store does not.)
          if (store.get?.(key) !== undefined) {
            store.decrement(key);
            await reference.decrement(key);
          }
        } else {
          jest.advanceTimersByTime(Math.floor(random() * WINDOW_MS));
        }
        expect(store.get?.(key)).toEqual(await reference.get?.(key));
      }
    } finally {
      reference.shutdown?.();
    }
  });
});
