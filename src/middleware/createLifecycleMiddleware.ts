import type {
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { ServiceUnavailableError } from '@backstage/errors';
import type { NextFunction, RequestHandler, Response } from 'express';
import type { LifecycleGateMetrics, LifecycleRejectionReason } from '../metrics';
import { readDurationMs } from '../readDurationMs';
import { markAsLogged } from '../errors';

/** How long requests wait for the plugin to start when `backend.lifecycle.startupRequestPauseTimeout` is unset. */
export const DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT_MS = 5000;

/** The `Retry-After` (seconds) sent with the 503 answers of the lifecycle gate. */
const LIFECYCLE_RETRY_AFTER_SECONDS = 5;

const TIMEOUT_CONFIG_KEY = 'backend.lifecycle.startupRequestPauseTimeout';

/** The message of each 503, as upstream words it. */
const REJECTION_MESSAGES: Record<LifecycleRejectionReason, string> = {
  startup_timeout: 'Service has not started up yet',
  shutdown: 'Service is shutting down',
};

/**
 * Options for {@link createLifecycleMiddleware}.
 *
 * @public
 */
export interface LifecycleMiddlewareOptions {
  /** The root config; `backend.lifecycle.startupRequestPauseTimeout` is read from it. */
  config: RootConfigService;
  /** The plugin's lifecycle service, whose startup and shutdown hooks open and close the gate. */
  lifecycle: LifecycleService;
  /**
   * Receives one warning when shutdown starts; the 503s that follow are then not logged one by one. Defaults to
   * none: nothing is logged here, and the error handler logs each 503.
   */
  logger?: LoggerService;
  /**
   * Counts the 503s by reason and the requests waiting for start-up; usually
   * `createHttpRouterMetrics(...).lifecycleGate`. Defaults to none: nothing is recorded.
   */
  metrics?: LifecycleGateMetrics;
  /** Shared by a backend's gates, so that its shutdown logs one warning. Defaults to this gate's own. */
  shutdownWarning?: { logged: boolean };
}

interface PausedRequest {
  res: Response;
  next: NextFunction;
  timer: NodeJS.Timeout;
}

/**
 * Creates a middleware that holds requests until the plugin has started and turns them away once it stops.
 *
 * @remarks
 * A request that arrives before the plugin's startup hook has run waits, and proceeds when it runs. If it is still
 * waiting after `backend.lifecycle.startupRequestPauseTimeout` (default 5 seconds), it fails with a
 * `ServiceUnavailableError` (503). Once shutdown has started, waiting and new requests fail the same way, and
 * `logger` gets one warning for the whole shutdown. Each 503 carries a `Retry-After` header. An unreadable timeout
 * throws at creation, naming the key and the value. With `metrics`, every 503 is counted (`startup_timeout` or
 * `shutdown`), and so is every request while it waits.
 *
 * Only `next` is required of the request and response: a response without `setHeader` gets no `Retry-After`,
 * and one without `once` keeps a waiting request's slot until it times out, so that the gate also runs on the
 * bare objects of upstream's unit tests.
 *
 * @public
 */
export function createLifecycleMiddleware(options: LifecycleMiddlewareOptions): RequestHandler {
  const { config, lifecycle, logger, metrics, shutdownWarning = { logged: false } } = options;
  const timeoutMs = readDurationMs(config, TIMEOUT_CONFIG_KEY, {
    fallbackMs: DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT_MS,
  });

  let state: 'starting' | 'up' | 'down' = 'starting';
  const paused = new Set<PausedRequest>();

  const reject = (res: Response, next: NextFunction, reason: LifecycleRejectionReason) => {
    metrics?.recordRejection(reason);
    if (typeof res.setHeader === 'function' && !res.headersSent) {
      res.setHeader('Retry-After', String(LIFECYCLE_RETRY_AFTER_SECONDS));
    }
    const error = new ServiceUnavailableError(REJECTION_MESSAGES[reason]);
    // The shutdown warning stands for every refusal that follows; start-up time-outs are each worth a line.
    next(state === 'down' && logger ? markAsLogged(error) : error);
  };

  lifecycle.addStartupHook(() => {
    if (state !== 'starting') {
      return;
    }
    state = 'up';
    for (const request of paused) {
      clearTimeout(request.timer);
      metrics?.addWaiting(-1);
      request.next();
    }
    paused.clear();
  });

  lifecycle.addShutdownHook(() => {
    state = 'down';
    if (!shutdownWarning.logged) {
      shutdownWarning.logged = true;
      logger?.warn(
        `Shutting down: requests are refused with 503 and Retry-After: ${LIFECYCLE_RETRY_AFTER_SECONDS} from now on` +
          (paused.size > 0 ? `, including ${paused.size} still waiting for start-up` : ''),
      );
    }
    for (const request of paused) {
      clearTimeout(request.timer);
      metrics?.addWaiting(-1);
      reject(request.res, request.next, 'shutdown');
    }
    paused.clear();
  });

  return function lifecycleGate(_req, res, next) {
    if (state === 'up') {
      next();
      return;
    }
    if (state === 'down') {
      reject(res, next, 'shutdown');
      return;
    }
    const request: PausedRequest = {
      res,
      next,
      timer: setTimeout(() => {
        if (paused.delete(request)) {
          metrics?.addWaiting(-1);
          reject(res, next, 'startup_timeout');
        }
      }, timeoutMs),
    };
    // A client that gives up while waiting should not keep its slot until the time-out.
    if (typeof res.once === 'function') {
      res.once('close', () => {
        if (paused.delete(request)) {
          clearTimeout(request.timer);
          metrics?.addWaiting(-1);
        }
      });
    }
    paused.add(request);
    metrics?.addWaiting(1);
  };
}
