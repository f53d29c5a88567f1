// path-to-regexp 0.1.x ships no types; this is the call express 4's `Layer` makes.
declare module 'path-to-regexp-express4' {
  function pathToRegexp(
    path: string,
    keys: unknown[],
    options: { end: boolean; strict: boolean; sensitive: boolean },
  ): RegExp;
  export = pathToRegexp;
}
