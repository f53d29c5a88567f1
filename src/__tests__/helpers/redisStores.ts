import type { LoggerService } from '@backstage/backend-plugin-api';
import { createRedisConnections } from '../../redis/connection';
import { createRedisStore, type RedisStoreOptions } from '../../redis/store';

/**
 * A Redis rate-limit store on connections of its own, as a limiter gets it; `shutdown()` closes its connection.
 *
 * @param options - The store's options; `timeoutMs` defaults to 100, `passOnStoreError` to true,
 * `retryAfterSeconds` to 5. `logger` and `outageSettleMs` go to the connections.
 */
export function createTestRedisStore(
  options: Omit<
    RedisStoreOptions,
    'connections' | 'timeoutMs' | 'passOnStoreError' | 'retryAfterSeconds'
  > &
    Partial<RedisStoreOptions> & { logger?: LoggerService; outageSettleMs?: number },
) {
  const { logger, outageSettleMs, ...storeOptions } = options;
  return createRedisStore({
    connections: createRedisConnections({ logger, outageSettleMs }),
    timeoutMs: 100,
    passOnStoreError: true,
    retryAfterSeconds: 5,
    ...storeOptions,
  });
}
