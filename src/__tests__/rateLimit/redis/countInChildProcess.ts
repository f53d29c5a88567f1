/**
 * Counts hits with the Redis rate-limit store in a process of its own and prints what happened as JSON.
 *
 * @remarks
 * Run by `redisStore.test.ts`: Node reads `NODE_EXTRA_CA_CERTS` (the authority a client trusts beyond the built-in
 * ones, as an operator with a private CA would set it) only when a process starts, so a test that trusts a
 * throwaway authority needs a process of its own; a count that trusts none runs {@link countHits} in the test's.
 *
 * Arguments: one or more groups of connection URL, key prefix, client key and number of hits; each group counts
 * with a store of its own, all at once, and the output is an array with one report per group.
 */
import type { LoggerService } from '@backstage/backend-plugin-api';
import type { IncrementResponse, Options } from 'express-rate-limit';
import { createTestRedisStore } from '../../helpers/redisStores';

/** Long enough for a TLS handshake on a slow machine; the first hits wait for the first connection attempt. */
const TIMEOUT_MS = 5_000;

/** Counts `hits` hits of `key` with a store of its own and reports the totals and what it logged. */
export async function countHits(connection: string, prefix: string, key: string, hits: number) {
  const warnings: string[] = [];
  const errors: string[] = [];
  const logger: LoggerService = {
    warn: message => warnings.push(message),
    error: message => errors.push(message),
    info: () => undefined,
    debug: () => undefined,
    child: () => logger,
  };
  const store = createTestRedisStore({ connection, prefix, logger, timeoutMs: TIMEOUT_MS });
  store.init?.({ windowMs: 60_000 } as Options);
  const totals: number[] = [];
  for (let i = 0; i < hits; i++) {
    const { totalHits } = (await store.increment(key)) as IncrementResponse;
    totals.push(totalHits);
  }
  await store.shutdown?.();
  return { totals, warnings, errors };
}

async function main() {
  const args = process.argv.slice(2);
  const groups = [];
  for (let i = 0; i + 4 <= args.length; i += 4) {
    const [connection, prefix, key, hits] = args.slice(i, i + 4);
    groups.push(countHits(connection, prefix, key, Number(hits)));
  }
  process.stdout.write(JSON.stringify(await Promise.all(groups)));
}

if (require.main === module) {
  main().catch(error => {
    process.stderr.write(String(error?.stack ?? error));
    process.exitCode = 1;
  });
}
