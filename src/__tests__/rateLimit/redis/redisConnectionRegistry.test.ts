import { mockServices } from '@backstage/backend-test-utils';
import { RedisStoreOptionError } from '../../../errors';
import {
  type RedisConnectionLease,
  acquireRedisConnection,
  closeRedisRateLimitClients,
} from '../../../rateLimit/redis/redisConnectionRegistry';
import { type RedisServerHandle, startRedisServer } from '../../helpers/redisServer';
import { waitUntil } from './waitUntil';

/** The name the rate-limit client gives its connections (`CLIENT SETNAME`). */
const CONNECTION_NAME = 'backstage-http-router-rate-limit';

describe('the Redis connection registry', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterEach(async () => {
    await closeRedisRateLimitClients();
    await waitUntil('every rate-limit client is gone', async () => (await clientCount()) === 0);
  });

  afterAll(async () => {
    await redis?.stop();
  });

  /** How many rate-limit clients the server sees. */
  async function clientCount(): Promise<number> {
    const list = await redis.cli('CLIENT', 'LIST');
    return list.split('\n').filter(line => line.includes(` name=${CONNECTION_NAME} `)).length;
  }

  /** Acquires a lease on the test server and waits until its connection answers PING. */
  async function acquireReady(timeoutMs: number): Promise<RedisConnectionLease> {
    const lease = acquireRedisConnection({ connection: redis.url, timeoutMs });
    await lease.connection.firstAttempt();
    await waitUntil('the connection is ready', () => lease.connection.isReady());
    return lease;
  }

  const ping = (lease: RedisConnectionLease) =>
    lease.connection.sendCommand({ isReadOnly: true, command: ['PING'] });

  it('shares one connection between leases with the same connection and timeout', async () => {
    const first = await acquireReady(100);
    const second = await acquireReady(100);

    expect(second.connection).toBe(first.connection);
    expect(second.outages).toBe(first.outages);
    await expect(ping(second)).resolves.toBe('PONG');
    expect(await clientCount()).toBe(1);
  });

  it('opens a connection of its own for another timeout', async () => {
    const short = await acquireReady(100);
    const long = await acquireReady(250);

    expect(long.connection).not.toBe(short.connection);
    expect(long.outages).not.toBe(short.outages);
    await expect(ping(short)).resolves.toBe('PONG');
    await expect(ping(long)).resolves.toBe('PONG');
    expect(await clientCount()).toBe(2);
  });

  it('keeps the connection open while a lease remains, even when another lease is released twice', async () => {
    const first = await acquireReady(100);
    const second = await acquireReady(100);

    first.release();
    first.release();
    const third = acquireRedisConnection({ connection: redis.url, timeoutMs: 100 });

    expect(third.connection).toBe(second.connection);
    expect(second.connection.isReady()).toBe(true);
    await expect(ping(second)).resolves.toBe('PONG');
    expect(await clientCount()).toBe(1);
  });

  it('closes the connection when its last lease is released', async () => {
    const first = await acquireReady(100);
    const second = await acquireReady(100);
    expect(await clientCount()).toBe(1);

    first.release();
    second.release();

    await waitUntil('the server drops the connection', async () => (await clientCount()) === 0);
    expect(second.connection.isReady()).toBe(false);
    await expect(ping(second)).rejects.toThrow();
  });

  it('opens a new connection for a lease taken after the last one was released', async () => {
    const before = await acquireReady(100);
    before.release();

    const after = await acquireReady(100);

    expect(after.connection).not.toBe(before.connection);
    await expect(ping(after)).resolves.toBe('PONG');
  });

  it('gives a lease on an unparseable connection that rejects every command and warns once', async () => {
    const logger = mockServices.logger.mock();
    const first = acquireRedisConnection({
      connection: 'not a url',
      timeoutMs: 100,
      logger,
    });
    const second = acquireRedisConnection({
      connection: 'not a url',
      timeoutMs: 100,
      logger,
    });

    await expect(ping(first)).rejects.toBeInstanceOf(RedisStoreOptionError);
    await expect(ping(second)).rejects.toThrow(/'not a url' is not a URL/);
    expect(second.connection).toBe(first.connection);
    expect(first.connection.isReady()).toBe(false);
    expect(first.connection.firstAttempt()).toBeUndefined();
    expect(first.outages.down).toBe(true);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^Redis rate-limit store \(invalid connection\) is unreachable at start-up \(.*'not a url' is not a URL/,
      ),
    );
    first.release();
    second.release();
    first.release();
  });

  it('closes every connection on closeRedisRateLimitClients, whoever holds it', async () => {
    const short = await acquireReady(100);
    const long = await acquireReady(250);
    expect(await clientCount()).toBe(2);

    await closeRedisRateLimitClients();

    await waitUntil('the server drops both connections', async () => (await clientCount()) === 0);
    expect(short.connection.isReady()).toBe(false);
    expect(long.connection.isReady()).toBe(false);
    await expect(ping(short)).rejects.toThrow();
  });

  it('does not close a newer connection when a lease from before closeRedisRateLimitClients is released', async () => {
    const stale = await acquireReady(100);
    await closeRedisRateLimitClients();
    const fresh = await acquireReady(100);
    expect(fresh.connection).not.toBe(stale.connection);

    stale.release();

    expect(fresh.connection.isReady()).toBe(true);
    await expect(ping(fresh)).resolves.toBe('PONG');
    expect(await clientCount()).toBe(1);
  });

  it('ends its outage log when the last lease is released: a pending end is said at once, nothing after', async () => {
    const logger = mockServices.logger.mock();
    const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
    const lease = acquireRedisConnection({ connection: redis.url, timeoutMs: 100, logger });
    await lease.connection.firstAttempt();
    await waitUntil('the connection is ready', () => lease.connection.isReady());

    lease.outages.reportFailure(new Error('Redis did not answer within 100 ms'));
    lease.outages.reportSuccess();
    expect(warnings()).toEqual([expect.stringMatching(/is unreachable/)]);
    lease.release();
    // Operations still in flight when the socket closes fail; the closed connection reports none of it.
    lease.outages.reportFailure(new Error("Stream isn't writeable"));

    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable/),
      expect.stringMatching(/is reachable again/),
    ]);
  });
});
