import { compileExpress4Path } from './compileExpress4Path';
import { compileUpstreamPath } from './compileUpstreamPath';
import { PolicyPathSyntaxError } from '../errors';
import type { CompiledPolicyPath } from './types';

/** Characters path-to-regexp 8 refuses anywhere unless escaped (it has no use for them outside quoted names). */
const UPSTREAM_REFUSES = new Set(['(', ')', '[', ']', '+', '?', '!']);

/**
 * Whether path-to-regexp 8 is sure to refuse `path` for one of {@link UPSTREAM_REFUSES}: saves building and
 * throwing its error for every Express 4 path, which costs more than compiling the path.
 */
function upstreamRefuses(path: string): boolean {
  if (path.includes('"')) return false;
  for (let i = 0; i < path.length; i++) {
    if (path[i] === '\\') i++;
    else if (UPSTREAM_REFUSES.has(path[i])) return true;
  }
  return false;
}

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
    return {
      path,
      syntax: 'everything',
      branches: [{ steps: [], tail: undefined }],
      source: '',
      hasCaptures: false,
    };
  }
  if (upstreamRefuses(path)) {
    return compileExpress4Path(path);
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
