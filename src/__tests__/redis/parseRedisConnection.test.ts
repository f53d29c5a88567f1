import { ERROR_CODES } from '../../errors';
import { parseRedisConnection } from '../../redis/connection';

describe('parseRedisConnection', () => {
  it.each([
    [
      'redis://redis.internal',
      {
        mode: 'standalone',
        nodes: [{ host: 'redis.internal', port: 6379 }],
        tls: false,
        description: 'redis://redis.internal',
      },
    ],
    [
      'rediss://user:s%40cret@redis.internal:6380/2',
      {
        mode: 'standalone',
        nodes: [{ host: 'redis.internal', port: 6380 }],
        username: 'user',
        password: 's@cret',
        db: 2,
        tls: true,
        description: 'rediss://user:***@redis.internal:6380/2',
      },
    ],
    [
      'redis://:pw@[::1]:7000',
      {
        mode: 'standalone',
        nodes: [{ host: '::1', port: 7000 }],
        password: 'pw',
        tls: false,
        description: 'redis://:***@[::1]:7000',
      },
    ],
    [
      ['redis://:pw@10.0.0.1:7000', 'redis://10.0.0.2:7001'],
      {
        mode: 'cluster',
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
        ],
        password: 'pw',
        tls: false,
        description: 'cluster redis://:***@10.0.0.1:7000,redis://10.0.0.2:7001',
      },
    ],
  ])('reads %j', (connection, expected) => {
    expect(parseRedisConnection(connection)).toEqual(expect.objectContaining(expected));
  });

  it.each([
    ['', 'connection', /expected a URL/],
    [42, 'connection', /expected a URL/],
    ['redis.internal:6379', 'connection', /unsupported scheme 'redis.internal:'/],
    ['not a url', 'connection', /'not a url' is not a URL/],
    ['http://redis.internal', 'connection', /unsupported scheme 'http:'/],
    ['redis://redis.internal?tls=true', 'connection', /has a query or fragment/],
    ['redis://redis.internal/cache', 'connection', /must be a database index/],
    [[], 'connection', /at least one cluster node/],
    [['redis://a:7000', 'nope'], 'connection[1]', /is not a URL/],
    [['redis://a:7000/1'], 'connection', /only has database 0/],
    [['redis://a:7000', 'rediss://b:7000'], 'connection', /same scheme/],
    [['redis://:x@a:7000', 'redis://:y@b:7000'], 'connection', /same password/],
    ['redis://:x@a:7000?tls=1', 'connection', /'redis:\/\/\*\*\*@a:7000\?tls=1' has a query/],
    ['redis://:x/secret@a:7000', 'connection', /'redis:\/\/\*\*\*@a:7000'/],
  ])('rejects %j, naming %s', (connection, option, message) => {
    let thrown: unknown;
    try {
      parseRedisConnection(connection);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: ERROR_CODES.redisStoreOption, option });
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toMatch(/:x@|:y@|secret/);
  });
});
