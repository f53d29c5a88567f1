import { editDistance, findClosestKey } from '../../rateLimit/findClosestKey';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['window', 'window', 0],
    ['windw', 'window', 1],
    ['Window', 'window', 0],
    ['skipSuccesfulRequests', 'skipSuccessfulRequests', 1],
    ['abc', '', 3],
    ['kitten', 'sitting', 3],
  ])('%j to %j is %d', (a, b, expected) => {
    expect(editDistance(a, b)).toBe(expected);
    expect(editDistance(b, a)).toBe(expected);
  });
});

describe('findClosestKey', () => {
  const known = ['window', 'incomingRequestLimit', 'ipAllowList', 'store'];

  it.each([
    ['windows', 'window'],
    ['incomingRequestsLimit', 'incomingRequestLimit'],
    ['ipAllowlist', 'ipAllowList'],
    ['stor', 'store'],
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
