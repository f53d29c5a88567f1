import { isIpAllowListEntry } from '../../rateLimit/config';
import { createIpAllowList } from '../../rateLimit/limiter';

describe('isIpAllowListEntry', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.0/8',
    '0.0.0.0/0',
    '::1',
    '0:0:0:0:0:0:0:1',
    '2001:db8::/32',
    '::ffff:127.0.0.1',
  ])('accepts %s', entry => {
    expect(isIpAllowListEntry(entry)).toBe(true);
  });

  it.each([
    'localhost',
    '',
    '10.0.0.1/33',
    '::/129',
    '10.0.0.1:80',
    '10.0.0/8',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    ' 10.0.0.1',
  ])('refuses %j', entry => {
    expect(isIpAllowListEntry(entry)).toBe(false);
  });
});

describe('createIpAllowList', () => {
  const isAllowed = createIpAllowList(['127.0.0.1', '::1', '10.0.0.0/8', '2001:db8:abcd::/48'])!;

  it.each([
    ['127.0.0.1', true],
    ['::ffff:127.0.0.1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::1', true],
    ['10.200.3.4', true],
    ['::ffff:10.200.3.4', true],
    ['2001:db8:abcd:12::1', true],
    ['127.0.0.2', false],
    ['11.0.0.1', false],
    ['2001:db8:abce::1', false],
    ['::2', false],
    ['not an address', false],
    [undefined, false],
  ])('%s is allowed: %s', (ip, expected) => {
    expect(isAllowed(ip)).toBe(expected);
  });

  it('matches a mapped entry against the IPv4 address it carries', () => {
    expect(createIpAllowList(['::ffff:192.0.2.1'])!('192.0.2.1')).toBe(true);
  });

  it('allows nobody when empty', () => {
    expect(createIpAllowList([])).toBeUndefined();
  });

  it('throws for an entry that is not an address or range', () => {
    expect(() => createIpAllowList(['localhost'])).toThrow(TypeError);
  });
});
