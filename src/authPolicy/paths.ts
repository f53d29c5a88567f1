import { PathError, parse, pathToRegexp, type Token } from 'path-to-regexp';
import express4PathToRegexp from 'path-to-regexp-express4';

/** Where express 4 syntax starts: an escape, a parameter with the `/` and `.` it takes in, or an operator. */
const EXPRESS4_SYNTAX = /\\|(\/)?(\.)?:\w+(?:\(.*?\))?\*?(\?)?|[*?+(){}[\]^$|]/;

/** A policy path neither router compiler reads; the registry wraps it in an `AuthPolicyError`. */
export class PolicyPathSyntaxError extends Error {
  override name = 'PolicyPathSyntaxError';

  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

/** A route-syntax path compiled once, to be tested against many request paths. */
export interface CompiledPolicyPath {
  path: string;
  /** Which compiler read it: none for `'/'` and `'*'`, upstream's, or the one of express 4's `router.use`. */
  syntax: 'everything' | 'path-to-regexp-8' | 'express-4';
  /** Whole segments every covered request path starts with (`['', 'users']` for `/users/:id`); may be fewer. */
  prefix: readonly string[];
  /** Whether the path covers `req.path`: a prefix match on segment boundaries. */
  matches(requestPath: string): boolean;
}

const matcherOf = (regexp: RegExp) =>
  function matchesPolicyPath(requestPath: string): boolean {
    const match = regexp.exec(requestPath);
    if (match === null) return false;
    // Express 4 answers 400 to a parameter that does not percent-decode, so it never reaches a route.
    for (let i = 1; i < match.length; i++) {
      try {
        if (match[i]?.includes('%')) decodeURIComponent(match[i]);
      } catch {
        return false;
      }
    }
    return true;
  };

/** Whether whatever `tokens` match from `index` on is empty or starts with `/`. */
function startsWithSlash(tokens: readonly Token[], index = 0): boolean {
  const token = tokens[index];
  if (token === undefined) return true;
  if (token.type === 'text') {
    return token.value ? token.value.startsWith('/') : startsWithSlash(tokens, index + 1);
  }
  return (
    token.type === 'group' &&
    startsWithSlash([...token.tokens, ...tokens.slice(index + 1)]) &&
    startsWithSlash(tokens, index + 1)
  );
}

/** The whole literal segments a path-to-regexp 8 path starts with. */
function upstreamPrefix(tokens: readonly Token[]): string[] {
  let index = 0;
  let text = '';
  for (let token = tokens[0]; token?.type === 'text'; token = tokens[++index]) text += token.value;
  const parts = text.split('/');
  return startsWithSlash(tokens, index) ? parts : parts.slice(0, -1);
}

/** The whole literal segments an express 4 path starts with; fewer when unsure, since it only narrows lookups. */
function express4Prefix(path: string): string[] {
  // A `|` outside a group would make the rest of the expression match anywhere.
  if (path.includes('|')) return [];
  const found = EXPRESS4_SYNTAX.exec(path);
  if (!found) return path.split('/');
  const [token, slash, dot, optional] = found;
  let text = path.slice(0, found.index);
  const next = path[found.index + token.length];
  // `/:id` requires its `/`; `/:id?` too when it is followed by a `/` or the end.
  if (slash && !dot && (!optional || next === undefined || next === '/')) return text.split('/');
  if (token === '?' || token === '+') text = text.slice(0, -1);
  return text.split('/').slice(0, -1);
}

/**
 * Compiles a policy path with the compiler of the router that would route it: path-to-regexp 8 as upstream, else
 * express 4's path-to-regexp 0.1 (except for `{`/`}`, path-to-regexp 8's groups); `'/'` and `'*'` cover all.
 * @param options - `sensitive: false` matches regardless of case, as express routers do by default; rate-limit
 * rules use it so that a client cannot step around a rule by changing case. Defaults to case-sensitive.
 * @throws {@link PolicyPathSyntaxError} when neither compiler reads the path.
 */
export function compilePolicyPath(
  path: string,
  options: { sensitive?: boolean } = {},
): CompiledPolicyPath {
  const { sensitive = true } = options;
  if (path === '/' || path === '*') {
    return { path, syntax: 'everything', prefix: [], matches: () => true };
  }
  let reason: string;
  try {
    const data = parse(path);
    const { regexp } = pathToRegexp(data, { end: false, sensitive });
    const prefix = upstreamPrefix(data.tokens);
    return { path, syntax: 'path-to-regexp-8', prefix, matches: matcherOf(regexp) };
  } catch (error) {
    if (!(error instanceof PathError)) throw error;
    reason = error.message.replace(/; visit .*$/, '');
  }
  const position = Number(/at index (\d+)/.exec(reason)?.[1] ?? 0);
  if (/[{}]/.test(path)) throw new PolicyPathSyntaxError(reason, position);
  try {
    const regexp = express4PathToRegexp(path, [], { end: false, strict: false, sensitive });
    return { path, syntax: 'express-4', prefix: express4Prefix(path), matches: matcherOf(regexp) };
  } catch (error) {
    throw new PolicyPathSyntaxError(
      `${reason}; read as express 4 syntax it is no valid expression either (${(error as Error).message})`,
      position,
    );
  }
}
