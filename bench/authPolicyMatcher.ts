import { createAuthPolicyRegistry } from '../src/authPolicy/registry';

/** Nanoseconds per lookup, averaged over `iterations` calls. */
function measure(lookup: (path: string) => unknown, path: string, iterations: number): number {
  for (let i = 0; i < 1000; i++) lookup(path);
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) lookup(path);
  return Number(process.hrtime.bigint() - started) / iterations;
}

function registryWith(count: number) {
  const registry = createAuthPolicyRegistry({ pluginId: 'bench' });
  for (let i = 0; i < count; i++) {
    const shape = i % 4;
    const path =
      shape === 0
        ? `/public${i}`
        : shape === 1
          ? `/users${i}/:id`
          : shape === 2
            ? `/static${i}/*`
            : `/files${i}/*rest`;
    registry.add({ path, allow: i % 2 ? 'user-cookie' : 'unauthenticated' });
  }
  return registry;
}

const rows: Array<Record<string, string>> = [];
for (const count of [1, 1000]) {
  const { lookup } = registryWith(count);
  const last = count - 1;
  const matchLast = `/public${last - (last % 4)}/page`;
  rows.push({
    policies: String(count),
    'match last (ns)': measure(lookup, matchLast, 200_000).toFixed(0),
    'match none (ns)': measure(lookup, '/nothing/here', 200_000).toFixed(0),
    '64 KiB path (ns)': measure(lookup, `/users${last}/${'a-'.repeat(32 * 1024)}`, 2_000).toFixed(
      0,
    ),
  });
}
console.table(rows);
