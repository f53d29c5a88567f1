import { compileExpress4Path } from './compileExpress4Path';
import { compileUpstreamPath } from './compileUpstreamPath';
import { PolicyPathSyntaxError } from './PolicyPathSyntaxError';
import type { CompiledPolicyPath } from './types';

/**
 * Compiles one policy path, in either accepted syntax, into what the policy matcher indexes.
 *
 * @remarks
 * `'/'` and `'*'` cover every path. A path that path-to-regexp 8 reads keeps exactly upstream's meaning (see
 * {@link compileUpstreamPath}), so no existing policy changes. Only a path it rejects is read as Express 4 syntax
 * and gets the meaning `router.use(path)` gives it (see {@link compileExpress4Path}). When both reject the path,
 * the Express 4 error is reported, since that grammar is the wider one.
 *
 * @param path - The policy path, relative to the plugin's mount path.
 * @throws {@link PolicyPathSyntaxError} when neither syntax accepts the path.
 * @internal
 */
export function compilePolicyPath(path: string): CompiledPolicyPath {
  if (path === '/' || path === '*') {
    return { path, syntax: 'everything', prefix: [], tail: undefined, hasCaptures: false };
  }
  try {
    return compileUpstreamPath(path);
  } catch (upstreamError) {
    if (!(upstreamError instanceof PolicyPathSyntaxError)) {
      throw upstreamError;
    }
    return compileExpress4Path(path);
  }
}
