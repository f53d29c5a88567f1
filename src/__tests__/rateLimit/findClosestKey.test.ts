import { findClosestKey } from '../../rateLimit/config';

describe('findClosestKey', () => {
  const known = [
    'window',
    'incomingRequestLimit',
    'ipAllowList',
    'store',
    'skipSuccessfulRequests',
  ];

  it.each([
    ['windows', 'window'],
    ['incomingRequestsLimit', 'incomingRequestLimit'],
    ['ipAllowlist', 'ipAllowList'],
    ['stor', 'store'],
    ['Window', 'window'],
    ['skipSuccesfullRequests', 'skipSuccessfulRequests'],
  ])('suggests %s for %s', (unknown, expected) => {
    expect(findClosestKey(unknown, known)).toBe(expected);
  });

  it.each([['color'], ['plugins2x'], ['x']])(
    'suggests nothing for the unrelated key %s',
    unknown => {
      expect(findClosestKey(unknown, known)).toBeUndefined();
    },
  );

  it('has nothing to suggest from no keys', () => {
    expect(findClosestKey('window', [])).toBeUndefined();
  });
});
