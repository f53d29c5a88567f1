import { createMockLogger } from '../helpers/createMockLogger';
import {
  createRedisConnections,
  type RedisConnections,
  type RedisLease,
} from '../../redis/connection';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';
import { waitUntil } from '../helpers/waitUntil';

/** The name the rate-limit client gives its connections (`CLIENT SETNAME`). */
const CONNECTION_NAME = 'backstage-http-router-rate-limit';

describe('the Redis connections of a backend', () => {
  let redis: RedisServerHandle;
  let connections: RedisConnections;
  let leases: RedisLease[];

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  beforeEach(() => {
    connections = createRedisConnections();
    leases = [];
  });

  afterEach(async () => {
    leases.forEach(lease => lease.release());
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
  async function acquireReady(timeoutMs: number): Promise<RedisLease> {
    const lease = connections.acquire({ connection: redis.url, timeoutMs });
    leases.push(lease);
    await lease.firstAttempt();
    await waitUntil('the connection is ready', () => lease.isReady());
    return lease;
  }

  const ping = (lease: RedisLease) => lease.sendCommand({ isReadOnly: true, command: ['PING'] });

  it('shares one connection between leases with the same connection and timeout', async () => {
    const first = await acquireReady(100);
    const second = await acquireReady(100);

    expect(second.breaker).toBe(first.breaker);
    await expect(ping(second)).resolves.toBe('PONG');
    expect(await clientCount()).toBe(1);
  });

  it('opens a connection of its own for another timeout', async () => {
    const short = await acquireReady(100);
    const long = await acquireReady(250);

    expect(long.breaker).not.toBe(short.breaker);
    await expect(ping(short)).resolves.toBe('PONG');
    await expect(ping(long)).resolves.toBe('PONG');
    expect(await clientCount()).toBe(2);
  });

  it('keeps the connection open while a lease remains, even when another lease is released twice', async () => {
    const first = await acquireReady(100);
    const second = await acquireReady(100);

    first.release();
    first.release();
    const third = connections.acquire({ connection: redis.url, timeoutMs: 100 });
    leases.push(third);

    expect(third.breaker).toBe(second.breaker);
    expect(second.isReady()).toBe(true);
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
    expect(second.isReady()).toBe(false);
    await expect(ping(second)).rejects.toThrow();
  });

  it('opens a new connection for a lease taken after the last one was released', async () => {
    const before = await acquireReady(100);
    before.release();

    const after = await acquireReady(100);

    expect(after.breaker).not.toBe(before.breaker);
    await expect(ping(after)).resolves.toBe('PONG');
  });

  it('ends its outage log when the last lease is released: a pending end is said at once, nothing after', async () => {
    const logger = createMockLogger();
    const warnings = () => logger.warn.mock.calls.map(([message]) => String(message));
    const lease = createRedisConnections({ logger }).acquire({
      connection: redis.url,
      timeoutMs: 100,
    });
    await lease.firstAttempt();
    await waitUntil('the connection is ready', () => lease.isReady());

    lease.breaker.trip(new Error('Redis did not answer within 100 ms'));
    lease.breaker.reset();
    expect(warnings()).toEqual([expect.stringMatching(/is unreachable/)]);
    lease.release();
    // Operations still in flight when the socket closes fail; the closed connection reports none of it.
    lease.breaker.trip(new Error("Stream isn't writeable"));

    expect(warnings()).toEqual([
      expect.stringMatching(/is unreachable/),
      expect.stringMatching(/is reachable again/),
    ]);
  });
});
