import type { LifecycleService, RootConfigService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError } from '@backstage/errors';
import type { NextFunction, RequestHandler, Response } from 'express';
import { readDurationMs } from '../readDurationMs';

/** How long requests wait for the plugin to start when `backend.lifecycle.startupRequestPauseTimeout` is unset. */
export const DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT_MS = 5000;

/** The `Retry-After` (seconds) sent with the 503 answers of the lifecycle gate. */
export const LIFECYCLE_RETRY_AFTER_SECONDS = 5;

const TIMEOUT_CONFIG_KEY = 'backend.lifecycle.startupRequestPauseTimeout';

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
 * `ServiceUnavailableError` (503). Once shutdown has started, waiting and new requests fail the same way. Each 503
 * carries a `Retry-After` header. An unreadable timeout throws at creation, naming the key and the value.
 *
 * @public
 */
export function createLifecycleMiddleware(options: LifecycleMiddlewareOptions): RequestHandler {
  const { config, lifecycle } = options;
  const timeoutMs = readDurationMs(config, TIMEOUT_CONFIG_KEY, {
    fallbackMs: DEFAULT_STARTUP_REQUEST_PAUSE_TIMEOUT_MS,
  });

  let state: 'starting' | 'up' | 'down' = 'starting';
  const paused = new Set<PausedRequest>();

  const reject = (res: Response, next: NextFunction, message: string) => {
    if (!res.headersSent) {
      res.setHeader('Retry-After', String(LIFECYCLE_RETRY_AFTER_SECONDS));
    }
    next(new ServiceUnavailableError(message));
  };

  lifecycle.addStartupHook(() => {
    if (state !== 'starting') {
      return;
    }
    state = 'up';
    for (const request of paused) {
      clearTimeout(request.timer);
      request.next();
    }
    paused.clear();
  });

  lifecycle.addShutdownHook(() => {
    state = 'down';
    for (const request of paused) {
      clearTimeout(request.timer);
      reject(request.res, request.next, 'Service is shutting down');
    }
    paused.clear();
  });

  return function lifecycleGate(_req, res, next) {
    if (state === 'up') {
      next();
      return;
    }
    if (state === 'down') {
      reject(res, next, 'Service is shutting down');
      return;
    }
    const request: PausedRequest = {
      res,
      next,
      timer: setTimeout(() => {
        if (paused.delete(request)) {
          reject(res, next, 'Service has not started up yet');
        }
      }, timeoutMs),
    };
    // A client that gives up while waiting should not keep its slot until the time-out.
    res.once('close', () => {
      if (paused.delete(request)) {
        clearTimeout(request.timer);
      }
    });
    paused.add(request);
  };
}
