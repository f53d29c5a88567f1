import { ASCII_ONLY, splitLiteralPrefix } from '../../authPolicy/splitLiteralPrefix';

describe('splitLiteralPrefix', () => {
  it.each<[string, boolean, string[], number]>([
    // literal, endsAtBoundary, segments, length
    ['', false, [], 0],
    ['', true, [''], 0],
    ['/', false, [''], 0],
    ['/', true, ['', ''], 1],
    ['/health', true, ['', 'health'], 7],
    // Without a boundary after it, the last segment is partial and stays out.
    ['/health', false, [''], 0],
    ['/a/b', false, ['', 'a'], 2],
    ['/a/b/', false, ['', 'a', 'b'], 4],
    ['/a/b/', true, ['', 'a', 'b', ''], 5],
    ['/a//b', true, ['', 'a', '', 'b'], 5],
    // Relative literals have no leading empty segment.
    ['abc', true, ['abc'], 3],
    ['abc', false, [], 0],
    ['a/b', false, ['a'], 1],
    // Segments are lower-cased.
    ['/API/V1', true, ['', 'api', 'v1'], 7],
    ['/Docs/Intro', false, ['', 'docs'], 5],
    // A non-ASCII segment ends the prefix, wherever it is.
    ['/é/x', true, [''], 0],
    ['/x/é', true, ['', 'x'], 2],
    ['/a/Ünïcode/b', true, ['', 'a'], 2],
    ['/a/\u212A', true, ['', 'a'], 2],
    ['/a/\x80', true, ['', 'a'], 2],
    // DEL is still ASCII.
    ['/a/\x7f', true, ['', 'a', '\x7f'], 4],
  ])(
    'splits %j (endsAtBoundary %s) into %j using %i characters',
    (literal, endsAtBoundary, segments, length) => {
      expect(splitLiteralPrefix(literal, endsAtBoundary)).toEqual({ segments, length });
    },
  );

  it('uses exactly the characters of the segments it returns', () => {
    const literal = '/Alpha/beta/gamma/é/delta';
    const { segments, length } = splitLiteralPrefix(literal, true);

    expect(segments).toEqual(['', 'alpha', 'beta', 'gamma']);
    expect(literal.slice(0, length)).toBe('/Alpha/beta/gamma');
    expect(literal.slice(length)).toBe('/é/delta');
  });
});

describe('ASCII_ONLY', () => {
  it.each([
    ['', true],
    ['health', true],
    ['\x00\x7f', true],
    ['é', false],
    ['\x80', false],
    ['a\u212Ab', false],
  ])('%j is ASCII only: %s', (text, expected) => {
    expect(ASCII_ONLY.test(text)).toBe(expected);
  });
});
