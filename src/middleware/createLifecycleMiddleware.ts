import type {
  LifecycleService,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { ServiceUnavailableError } from '@backstage/errors';
import type { NextFunction, RequestHandler, Response } from 'express';
import { markAsLogged } from '../errors';
import type { LifecycleGateMetrics, LifecycleRejectionReason } from '../metrics';
import { readDurationMs } from '../readDurationMs';

const DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT_MS = 5000;
const LIFECYCLE_RETRY_AFTER_SECONDS = 5;
const TIMEOUT_CONFIG_KEY = 'backend.lifecycle.startupRequestPauseTimeout';

/** Options for {@link createLifecycleMiddleware}. @public */
export interface LifecycleMiddlewareOptions {
  /** Where `backend.lifecycle.startupRequestPauseTimeout` is read. */
  config: RootConfigService;
  lifecycle: LifecycleService;
  /** Gets one warning when shutdown starts, instead of a log line per 503. Defaults to none. */
  logger?: LoggerService;
  /** Counts the 503s by reason and the requests waiting for start-up. Defaults to none. */
  metrics?: LifecycleGateMetrics;
  /** Shared by a backend's gates, so that its shutdown logs one warning. Defaults to this gate's own. */
  shutdownWarning?: { logged: boolean };
}

type PausedRequest = { res: Response; next: NextFunction; timer: NodeJS.Timeout };

/**
 * Creates a middleware that holds requests until the plugin has started and turns them away once it stops.
 * @remarks
 * A request waits for the startup hook, at most `backend.lifecycle.startupRequestPauseTimeout` (default 5
 * seconds); then, and from shutdown on, it fails with a 503 `ServiceUnavailableError` and `Retry-After`. Only
 * `next` is required of the response: without `setHeader` there is no `Retry-After`, without `once` a client that
 * leaves keeps its slot until the time-out, so the gate also runs on upstream's bare test objects.
 * @public
 */
export function createLifecycleMiddleware(options: LifecycleMiddlewareOptions): RequestHandler {
  const { config, lifecycle, logger, metrics, shutdownWarning = { logged: false } } = options;
  const fallbackMs = DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT_MS;
  const timeoutMs = readDurationMs(config, TIMEOUT_CONFIG_KEY, { fallbackMs });
  let state: 'starting' | 'up' | 'down' = 'starting';
  const paused = new Set<PausedRequest>();

  const reject = (res: Response, next: NextFunction, reason: LifecycleRejectionReason) => {
    metrics?.recordRejection(reason);
    if (typeof res.setHeader === 'function' && !res.headersSent) {
      res.setHeader('Retry-After', String(LIFECYCLE_RETRY_AFTER_SECONDS));
    }
    const message =
      reason === 'shutdown' ? 'Service is shutting down' : 'Service has not started up yet';
    const error = new ServiceUnavailableError(message);
    // The shutdown warning stands for every refusal that follows; start-up time-outs are each worth a line.
    next(state === 'down' && logger ? markAsLogged(error) : error);
  };
  /** Takes `request` out of the waiting set; `false` when it already left. */
  const unpause = (request: PausedRequest) => {
    if (!paused.delete(request)) return false;
    clearTimeout(request.timer);
    metrics?.addWaiting(-1);
    return true;
  };

  lifecycle.addStartupHook(() => {
    if (state !== 'starting') return;
    state = 'up';
    paused.forEach(request => unpause(request) && request.next());
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
    paused.forEach(request => unpause(request) && reject(request.res, request.next, 'shutdown'));
  });

  return function lifecycleGate(_req, res, next) {
    if (state === 'up') return next();
    if (state === 'down') return reject(res, next, 'shutdown');
    const timer = setTimeout(
      () => unpause(request) && reject(res, next, 'startup_timeout'),
      timeoutMs,
    );
    const request: PausedRequest = { res, next, timer };
    res.once?.('close', () => unpause(request));
    paused.add(request);
    metrics?.addWaiting(1);
  };
}
