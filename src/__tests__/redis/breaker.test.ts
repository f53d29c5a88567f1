import { createMockLogger } from '../helpers/createMockLogger';
import { createRedisBreaker, RedisTimeoutError, redisWaitFailure } from '../../redis/breaker';

describe('the circuit breaker of a Redis connection', () => {
  let logger: ReturnType<typeof createMockLogger>;
  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
  const createBreaker = () =>
    createRedisBreaker({
      description: 'redis://r:6379',
      timeoutMs: 200,
      isReady: () => true,
      isConnecting: () => false,
      logger,
      outageSettleMs: 1_000,
    });

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000 });
    logger = createMockLogger();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('gives up a wait after its timeout, as a timeout, and opens', async () => {
    const breaker = createBreaker();
    const waited = breaker.wait(new Promise(() => undefined));
    const outcome = waited.catch((error: unknown) => error);
    jest.advanceTimersByTime(199);
    expect(breaker.isOpen()).toBe(false);
    jest.advanceTimersByTime(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(RedisTimeoutError);
    breaker.trip(error);
    expect(breaker.isOpen()).toBe(true);
  });

  it('stops a wait in progress as soon as another one has timed out', async () => {
    const breaker = createBreaker();
    const first = breaker.wait(new Promise(() => undefined)).catch((error: unknown) => error);
    jest.advanceTimersByTime(100);
    let secondSettled = false;
    const second = breaker
      .wait(new Promise(() => undefined))
      .catch((error: unknown) => error)
      .finally(() => {
        secondSettled = true;
      });
    jest.advanceTimersByTime(100);
    breaker.trip(await first);
    await jest.advanceTimersByTimeAsync(0);
    // Released at 200 ms, half-way through its own timeout, and labelled a timeout for the histogram.
    expect(secondSettled).toBe(true);
    expect(redisWaitFailure(await second)).toBe('timeout');
  });

  it('closes again when a probe succeeds, and runs one probe at a time', async () => {
    const breaker = createBreaker();
    breaker.trip(new Error('ECONNRESET'));
    let answer: (value: string) => void = () => undefined;
    const probe = jest.fn(() => new Promise<string>(resolve => (answer = resolve)));
    breaker.probe(probe);
    breaker.probe(probe);
    await Promise.resolve();
    expect(probe).toHaveBeenCalledTimes(1);
    expect(breaker.isOpen()).toBe(true);
    answer('PONG');
    await jest.advanceTimersByTimeAsync(0);
    expect(breaker.isOpen()).toBe(false);
  });

  it('logs once when an outage starts and once when it ends, however many failures happen', () => {
    const breaker = createBreaker();

    breaker.reset();
    breaker.trip(new Error('ECONNREFUSED'));
    breaker.trip(new Error('ECONNREFUSED'));
    expect(breaker.isOpen()).toBe(true);
    jest.advanceTimersByTime(1_500);
    breaker.reset();
    breaker.reset();
    expect(breaker.isOpen()).toBe(false);
    jest.advanceTimersByTime(999);
    expect(warnings()).toHaveLength(1);
    jest.advanceTimersByTime(1);

    expect(warnings()).toEqual([
      expect.stringMatching(
        /^Redis rate-limit store redis:\/\/r:6379 is unreachable \(ECONNREFUSED\)/,
      ),
      expect.stringMatching(/is reachable again after 1500 ms/),
    ]);
  });

  it('keeps one outage while answers and failures alternate, as with one cluster node gone', () => {
    const breaker = createBreaker();
    breaker.reset();

    for (let i = 0; i < 20; i++) {
      breaker.trip(new Error('Connection is closed.'));
      expect(breaker.isOpen()).toBe(true);
      jest.advanceTimersByTime(100);
      breaker.reset();
      // Requests go back to Redis at once; only the log waits.
      expect(breaker.isOpen()).toBe(false);
      jest.advanceTimersByTime(400);
    }
    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable \(Connection is closed\.\)/),
    ]);

    jest.advanceTimersByTime(1_000);
    // From the first failure to the success after which none came: 19 × 500 ms + 100 ms.
    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable/),
      expect.stringMatching(/is reachable again after 9600 ms/),
    ]);
  });

  it('logs a new outage when Redis fails again after the last one was reported over', () => {
    const breaker = createBreaker();
    breaker.reset();

    breaker.trip(new Error('first'));
    breaker.reset();
    jest.advanceTimersByTime(1_000);
    breaker.trip(new Error('second'));

    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable \(first\)/),
      expect.stringMatching(/is reachable again after 0 ms/),
      expect.stringMatching(/is unreachable \(second\)/),
    ]);
  });

  it('says a pending end at once when closed, and nothing afterwards', () => {
    const breaker = createBreaker();
    breaker.trip(new Error('ECONNREFUSED'));
    jest.advanceTimersByTime(300);
    breaker.reset();

    breaker.close();
    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable at start-up/),
      expect.stringMatching(/is reachable again after 300 ms/),
    ]);
    breaker.trip(new Error("Stream isn't writeable"));
    breaker.reset();
    jest.advanceTimersByTime(5_000);

    expect(warnings()).toHaveLength(2);
  });

  it('says nothing when closed during an outage that has not ended', () => {
    const breaker = createBreaker();
    breaker.trip(new Error('ECONNREFUSED'));

    breaker.close();
    breaker.reset();
    jest.advanceTimersByTime(5_000);

    expect(warnings()).toEqual([expect.stringMatching(/is unreachable at start-up/)]);
  });

  it('says that Redis was unreachable at start-up when it never answered', () => {
    const breaker = createBreaker();

    breaker.trip(new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:6379')]));

    expect(warnings()).toEqual([
      expect.stringMatching(
        /is unreachable at start-up \(connect ECONNREFUSED 127\.0\.0\.1:6379\)/,
      ),
    ]);
  });
});
