import type { CompiledPolicyPath } from '../../authPolicy/types';

/** Lower-cases ASCII letters only, as the prefix comparison does. */
const asciiLowerCase = (text: string) => text.replace(/[A-Z]/g, letter => letter.toLowerCase());

/**
 * Whether a compiled policy path covers a request path, read straight from the contract of
 * {@link CompiledPolicyPath} rather than through the matcher's trie.
 *
 * @remarks
 * The request's first segments (split on `/`) must equal the prefix, ASCII case-insensitively; the tail, when
 * there is one, must then match (flags `iy`) at the character right after those segments.
 */
export function coversCompiledPath(compiled: CompiledPolicyPath, path: string): boolean {
  const segments = path.split('/');
  if (segments.length < compiled.prefix.length) {
    return false;
  }
  if (!compiled.prefix.every((segment, index) => asciiLowerCase(segments[index]) === segment)) {
    return false;
  }
  if (compiled.tail === undefined) {
    return true;
  }
  const tail = new RegExp(compiled.tail, 'iy');
  tail.lastIndex = compiled.prefix.join('/').length;
  return tail.test(path);
}
