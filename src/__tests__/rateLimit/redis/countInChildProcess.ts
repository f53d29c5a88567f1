/**
 * Counts hits with the Redis rate-limit store in a process of its own and prints what happened as JSON.
 *
 * @remarks
 * Run by `redisStore.test.ts`: Node reads `NODE_EXTRA_CA_CERTS` (the authority a client trusts beyond the built-in
 * ones, as an operator with a private CA would set it) only when a process starts, so a test that trusts a
 * throwaway authority needs a process of its own.
 *
 * Arguments: connection URL, key prefix, client key, number of hits.
 */
import type { LoggerService } from '@backstage/backend-plugin-api';
import type { IncrementResponse, Options } from 'express-rate-limit';
import { createTestRedisStore } from '../../helpers/redisStores';

/** Long enough for a TLS handshake on a slow machine; the first hits wait for the first connection attempt. */
const TIMEOUT_MS = 5_000;

async function main() {
  const [connection, prefix, key, hits] = process.argv.slice(2);
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
  for (let i = 0; i < Number(hits); i++) {
    const { totalHits } = (await store.increment(key)) as IncrementResponse;
    totals.push(totalHits);
  }
  await store.shutdown?.();
  process.stdout.write(JSON.stringify({ totals, warnings, errors }));
}

main().catch(error => {
  process.stderr.write(String(error?.stack ?? error));
  process.exitCode = 1;
});
