import type { Request, RequestHandler } from 'express';
import { TooManyRequestsError } from '../errors';

/** The `Retry-After` (seconds) of a refusal for too many open WebSockets: a place frees when one closes. */
const CONNECTION_LIMIT_RETRY_AFTER_SECONDS = 1;

/** The open WebSockets of one scope (one plugin, or all plugins of the backend), per principal or address. */
export interface ConnectionCounter {
  readonly limit: number;
  /** What is counted, for the refusal message: `in plugin 'signals'` or `across all plugins`. */
  readonly scope: string;
  /** Takes a place for `key`; `false` when `key` already holds `limit`. */
  tryOpen(key: string): boolean;
  close(key: string): void;
}

/** Creates an in-memory count of open WebSockets: each backend instance limits its own sockets. */
export function createConnectionCounter(limit: number, scope: string): ConnectionCounter {
  const open = new Map<string, number>();
  return {
    limit,
    scope,
    tryOpen(key) {
      const count = open.get(key) ?? 0;
      if (count >= limit) return false;
      open.set(key, count + 1);
      return true;
    },
    close(key) {
      const count = open.get(key) ?? 0;
      if (count <= 1) open.delete(key);
      else open.set(key, count - 1);
    },
  };
}

/**
 * The upgrade step that holds a place in every counter until the socket closes, or refuses with a 429 naming the
 * full one.
 */
export function createConnectionLimitStep(
  counters: readonly ConnectionCounter[],
  keyOf: (req: Request) => string,
): RequestHandler {
  return function webSocketConnectionLimit(req, res, next) {
    if (counters.length === 0) {
      next();
      return;
    }
    const key = keyOf(req);
    const taken: ConnectionCounter[] = [];
    for (const counter of counters) {
      if (!counter.tryOpen(key)) {
        taken.forEach(held => held.close(key));
        res.setHeader('Retry-After', String(CONNECTION_LIMIT_RETRY_AFTER_SECONDS));
        next(
          new TooManyRequestsError(
            `Too many open WebSockets: at most ${counter.limit} per client ${counter.scope}`,
            { retryAfterSeconds: CONNECTION_LIMIT_RETRY_AFTER_SECONDS },
          ),
        );
        return;
      }
      taken.push(counter);
    }
    const release = () => taken.forEach(held => held.close(key));
    if (req.socket.destroyed) {
      release();
    } else {
      req.socket.once('close', release);
    }
    next();
  };
}
