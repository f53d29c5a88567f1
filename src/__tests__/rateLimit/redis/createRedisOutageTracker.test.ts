import { mockServices } from '@backstage/backend-test-utils';
import { createRedisOutageTracker } from '../../../rateLimit/redis/createRedisOutageTracker';

describe('createRedisOutageTracker', () => {
  let logger: ReturnType<typeof mockServices.logger.mock>;
  const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
  const createTracker = () =>
    createRedisOutageTracker({ description: 'redis://r:6379', logger, settleMs: 1_000 });

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000 });
    logger = mockServices.logger.mock();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('logs once when an outage starts and once when it ends, however many failures happen', () => {
    const outages = createTracker();

    outages.reportSuccess();
    outages.reportFailure(new Error('ECONNREFUSED'));
    outages.reportFailure(new Error('ECONNREFUSED'));
    expect(outages.down).toBe(true);
    jest.advanceTimersByTime(1_500);
    outages.reportSuccess();
    outages.reportSuccess();
    expect(outages.down).toBe(false);
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
    const outages = createTracker();
    outages.reportSuccess();

    for (let i = 0; i < 20; i++) {
      outages.reportFailure(new Error('Connection is closed.'));
      expect(outages.down).toBe(true);
      jest.advanceTimersByTime(100);
      outages.reportSuccess();
      // Requests go back to Redis at once; only the log waits.
      expect(outages.down).toBe(false);
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
    const outages = createTracker();
    outages.reportSuccess();

    outages.reportFailure(new Error('first'));
    outages.reportSuccess();
    jest.advanceTimersByTime(1_000);
    outages.reportFailure(new Error('second'));

    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable \(first\)/),
      expect.stringMatching(/is reachable again after 0 ms/),
      expect.stringMatching(/is unreachable \(second\)/),
    ]);
  });

  it('says a pending end at once when closed, and nothing afterwards', () => {
    const outages = createTracker();
    outages.reportFailure(new Error('ECONNREFUSED'));
    jest.advanceTimersByTime(300);
    outages.reportSuccess();

    outages.close();
    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable at start-up/),
      expect.stringMatching(/is reachable again after 300 ms/),
    ]);
    outages.reportFailure(new Error("Stream isn't writeable"));
    outages.reportSuccess();
    jest.advanceTimersByTime(5_000);

    expect(warnings()).toHaveLength(2);
  });

  it('says nothing when closed during an outage that has not ended', () => {
    const outages = createTracker();
    outages.reportFailure(new Error('ECONNREFUSED'));

    outages.close();
    outages.reportSuccess();
    jest.advanceTimersByTime(5_000);

    expect(warnings()).toEqual([expect.stringMatching(/is unreachable at start-up/)]);
  });

  it('says that Redis was unreachable at start-up when it never answered', () => {
    const outages = createTracker();

    outages.reportFailure(new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:6379')]));

    expect(warnings()).toEqual([
      expect.stringMatching(
        /is unreachable at start-up \(connect ECONNREFUSED 127\.0\.0\.1:6379\)/,
      ),
    ]);
  });
});
