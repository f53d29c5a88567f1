import { mockServices } from '@backstage/backend-test-utils';
import { createRedisOutageTracker } from '../../../rateLimit/redis/createRedisOutageTracker';

describe('createRedisOutageTracker', () => {
  it('logs once when an outage starts and once when it ends, however many failures happen', () => {
    const logger = mockServices.logger.mock();
    let now = 1_000;
    const outages = createRedisOutageTracker({
      description: 'redis://r:6379',
      logger,
      now: () => now,
    });

    outages.reportSuccess();
    outages.reportFailure(new Error('ECONNREFUSED'));
    outages.reportFailure(new Error('ECONNREFUSED'));
    expect(outages.down).toBe(true);
    now += 1_500;
    outages.reportSuccess();
    outages.reportSuccess();

    expect(outages.down).toBe(false);
    expect(logger.warn.mock.calls.map(([message]) => message)).toEqual([
      expect.stringMatching(
        /^Redis rate-limit store redis:\/\/r:6379 is unreachable \(ECONNREFUSED\)/,
      ),
      expect.stringMatching(/is reachable again after 1500 ms/),
    ]);
  });

  it('says that Redis was unreachable at start-up when it never answered', () => {
    const logger = mockServices.logger.mock();
    const outages = createRedisOutageTracker({ description: 'redis://r:6379', logger });

    outages.reportFailure(new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:6379')]));

    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /is unreachable at start-up \(connect ECONNREFUSED 127\.0\.0\.1:6379\)/,
      ),
    );
  });
});
