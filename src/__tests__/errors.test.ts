import { AuthPolicyError, ERROR_CODES, HttpRouterConfigError, describeValue } from '../errors';

describe('ERROR_CODES', () => {
  it('has stable values', () => {
    expect(ERROR_CODES).toEqual({
      config: 'ERR_HTTP_ROUTER_CONFIG',
      authPolicy: 'ERR_HTTP_ROUTER_AUTH_POLICY',
      redisStoreOption: 'ERR_HTTP_ROUTER_REDIS_STORE_OPTION',
      rateLimitStoreUnavailable: 'ERR_HTTP_ROUTER_RATE_LIMIT_STORE_UNAVAILABLE',
      rootRateLimitNotApplied: 'ERR_HTTP_ROUTER_ROOT_RATE_LIMIT_NOT_APPLIED',
    });
  });
});

describe('HttpRouterConfigError', () => {
  it('names the key in its message and fields', () => {
    const error = new HttpRouterConfigError(
      'backend.rateLimit.window',
      "expected a duration, got 'x'",
    );

    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('HttpRouterConfigError');
    expect(error.code).toBe('ERR_HTTP_ROUTER_CONFIG');
    expect(error.key).toBe('backend.rateLimit.window');
    expect(error.message).toBe(
      "Invalid config at 'backend.rateLimit.window': expected a duration, got 'x'",
    );
    expect(error.cause).toBeUndefined();
    expect(Object.hasOwn(error, 'cause')).toBe(false);
  });

  it('keeps the cause it is given', () => {
    const cause = new Error('underlying');
    const error = new HttpRouterConfigError('a.b', 'bad', { cause });

    expect(error.cause).toBe(cause);
  });
});

describe('AuthPolicyError', () => {
  it.each<[string, ConstructorParameters<typeof AuthPolicyError>[0], string]>([
    [
      'only a path and a message',
      { path: '/x', message: 'is wrong' },
      'Invalid auth policy with path "/x": is wrong',
    ],
    [
      'a plugin',
      { pluginId: 'catalog', path: '/x', message: 'is wrong' },
      `Invalid auth policy for plugin 'catalog' with path "/x": is wrong`,
    ],
    [
      'a position',
      { pluginId: 'catalog', path: '/a[b]', message: "'[' is an operator", position: 2 },
      `Invalid auth policy for plugin 'catalog' with path "/a[b]": '[' is an operator (at position 2)`,
    ],
    [
      'position 0',
      { path: '(', message: 'unbalanced', position: 0 },
      'Invalid auth policy with path "(": unbalanced (at position 0)',
    ],
    [
      'a hint',
      { pluginId: 'p', path: '/x', message: 'is wrong', position: 1, hint: 'Try /y' },
      `Invalid auth policy for plugin 'p' with path "/x": is wrong (at position 1). Try /y`,
    ],
    [
      'a path that is not a string',
      { path: 42, message: 'must be a string' },
      'Invalid auth policy with path 42: must be a string',
    ],
    [
      'an empty plugin id, which is left out',
      { pluginId: '', path: '/x', message: 'is wrong' },
      'Invalid auth policy with path "/x": is wrong',
    ],
  ])('renders a message with %s', (_what, details, message) => {
    expect(new AuthPolicyError(details).message).toBe(message);
  });

  it('carries its code, name and details as fields', () => {
    const error = new AuthPolicyError({
      pluginId: 'catalog',
      path: '/a[b]',
      message: 'bad',
      position: 2,
    });

    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('AuthPolicyError');
    expect(error.code).toBe('ERR_HTTP_ROUTER_AUTH_POLICY');
    expect(error.pluginId).toBe('catalog');
    expect(error.path).toBe('/a[b]');
    expect(error.position).toBe(2);
  });

  it('leaves the plugin and position undefined when not given', () => {
    const error = new AuthPolicyError({ path: undefined, message: 'is required' });

    expect(error.pluginId).toBeUndefined();
    expect(error.position).toBeUndefined();
    expect(error.path).toBeUndefined();
    expect(error.message).toBe('Invalid auth policy with path undefined: is required');
  });
});

describe('describeValue', () => {
  const circular: Record<string, unknown> = { name: 'loop' };
  circular.self = circular;

  it.each<[string, unknown, string]>([
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['a string', '10s', '"10s"'],
    ['an empty string', '', '""'],
    ['a string with quotes', 'say "hi"', '"say \\"hi\\""'],
    ['a number', 42, '42'],
    ['a boolean', false, 'false'],
    ['an object', { seconds: 10 }, '{"seconds":10}'],
    ['an array', ['a', 1], '["a",1]'],
    ['a circular object', circular, '[object Object]'],
    ['a bigint', BigInt(7), '7'],
    ['a function, without its source', function secret() {}, 'a function'],
  ])('renders %s', (_what, value, rendered) => {
    expect(describeValue(value)).toBe(rendered);
  });
});
