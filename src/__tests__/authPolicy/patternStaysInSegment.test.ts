import { patternStaysInSegment } from '../../authPolicy/express4/patternStaysInSegment';

/** Texts with a `/` that a pattern able to take one would match, at least as part of a match. */
const WITH_SLASH = ['/', 'a/b', '1/2', '//', 'a/', '/a', 'x/-', '%/', ' /'];

describe('patternStaysInSegment', () => {
  it.each([
    '\\d+',
    '(\\d+)',
    '[a-z]+',
    '[A-Za-z0-9_-]{2,8}',
    '[^/]+',
    '[^\\/x]+',
    '[\\d\\w]+',
    '\\w+\\.\\w+',
    'en|fr',
    '(?:a|b)c?',
    '\\s*',
    '[0-9]',
    '[-]?',
    '[]',
    '[\\]]',
    '',
  ])('keeps %j within a segment', pattern => {
    expect(patternStaysInSegment(pattern)).toBe(true);
    // Whatever it matches, it never takes a `/`.
    const anywhere = new RegExp(pattern === '' ? '(?:)' : pattern);
    for (const text of WITH_SLASH) {
      expect(anywhere.exec(text)?.[0] ?? '').not.toContain('/');
    }
  });

  it.each([
    ['a dot', '.*'],
    ['a dot in a group', '(a|.)'],
    ['\\D', '\\D+'],
    ['\\W', '\\W'],
    ['\\S', '\\S+'],
    ['an escaped slash', 'a\\/b'],
    ['a slash', 'a/b'],
    ['a negated class that does not list /', '[^a]+'],
    ['a negated class with \\d only', '[^\\d]'],
    ['a class with /', '[a/]'],
    ['a class with \\/', '[a\\/]'],
    ['a range across /', '[!-~]+'],
    ['a range ending at /', '[+-/]'],
    ['a class with \\D', '[\\D]'],
    ['a class escape before -', '[\\d-z]'],
    ['an unknown escape', '\\u002f'],
    ['an unknown escape in a class', '[\\x2f]'],
    ['an unterminated class', '[abc'],
    ['a lone backslash', 'a\\'],
  ])('may leave its segment with %s: %j', (_name, pattern) => {
    expect(patternStaysInSegment(pattern)).toBe(false);
  });
});
