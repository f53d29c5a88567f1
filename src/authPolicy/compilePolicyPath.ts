import { pathToRegexp } from 'path-to-regexp';

/**
 * Compiles one policy path into a predicate over request paths relative to the plugin's mount path.
 *
 * @remarks
 * `'/'` and `'*'` cover every path. Other paths use path-to-regexp 8 syntax with prefix matching, as
 * `router.use(path)` would. Throws the parser's error for a path it cannot read.
 *
 * @internal
 */
export function compilePolicyPath(path: string): (requestPath: string) => boolean {
  if (path === '/' || path === '*') {
    return () => true;
  }
  const { regexp } = pathToRegexp(path, { end: false });
  return requestPath => regexp.test(requestPath);
}
