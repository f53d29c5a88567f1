import type {
  AuthService,
  BackstageCredentials,
  LoggerService,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketMetrics, WebSocketUpgradeOutcome } from '../metrics';
import { passThrough } from '../middleware/passThrough';
import { clientAddressKey, CREDENTIALS_READER } from '../rateLimit/limiter';
import type { CredentialsReader } from '../rateLimit/types';
import { createAllPluginsLimitStep } from './rootHttpRouterServiceFactory';
import {
  authenticateUpgrade,
  readUpgradeTokens,
  type UpgradeAuthentication,
} from './authenticateUpgrade';
import { createConnectionLimitStep, type ConnectionCounter } from './connectionLimit';
import type { RootWebSocketRouter, WebSocketHandlerOptions } from './types';

type AuthPolicy = WebSocketHandlerOptions['authPolicy'];

const TRUST_PROXY_CONFIG_KEY = 'backend.trustProxy';
const DISABLE_DEFAULT_AUTH_POLICY_KEY = 'backend.auth.dangerouslyDisableDefaultAuthPolicy';

/** Options for {@link createWebSocketRoutes}. */
export interface WebSocketRoutesOptions {
  pluginId: string;
  /** Where the plugin's HTTP router is mounted; WebSocket paths are relative to it. */
  mountPath: string;
  /** The root router, which routes upgrades by exact path. */
  rootHttpRouter: RootWebSocketRouter;
  auth: AuthService;
  config: RootConfigService;
  /** Receives one line per upgrade refused with a 5xx (through `errorHandler`). */
  logger: LoggerService;
  /** The plugin router's rate-limit step, which an upgrade passes first. */
  rateLimit: RequestHandler;
  /** The plugin router's lifecycle gate, which an upgrade passes next. */
  lifecycleGate: RequestHandler;
  /** Where the upgrade holds a place while its socket is open: the plugin's and the all-plugins counters. */
  connectionCounters: readonly ConnectionCounter[];
  /** Answers a refused upgrade as the plugin router answers a refused request. */
  errorHandler: ErrorRequestHandler;
  /** Counts upgrades by outcome and the open sockets. Defaults to none. */
  metrics?: WebSocketMetrics;
}

/** The outcome of a refused upgrade, by the status it was answered with and whether the lifecycle gate refused. */
function refusalOutcome(statusCode: number, byLifecycleGate: boolean): WebSocketUpgradeOutcome {
  if (byLifecycleGate) return 'lifecycle_refused';
  if (statusCode === 429) return 'limited';
  if (statusCode === 401 || statusCode === 403) return 'unauthenticated';
  return statusCode === 503 ? 'unavailable' : 'failed';
}

/** Whose sockets an upgrade counts as: its principal, or its address as the request budgets count it. */
function connectionKey(req: Request, credentials: BackstageCredentials | undefined): string {
  const principal = credentials?.principal as {
    type?: string;
    userEntityRef?: string;
    subject?: string;
  };
  if (principal?.type === 'user') return `user:${principal.userEntityRef}`;
  if (principal?.type === 'service') return `service:${principal.subject}`;
  return `address:${clientAddressKey(req)}`;
}

/**
 * Builds a plugin's `addWebSocketHandler`: an upgrade passes the all-plugins limiter, `steps`, token
 * authentication and the connection limit, in an express app over a `ServerResponse` bound to the socket, so a
 * refusal gets the same status, headers and body as over HTTP. A hook before the authentication of upstream's
 * `createWebSocketRouter`, and its mount path as an option, would remove this.
 */
export function createWebSocketRoutes(
  options: WebSocketRoutesOptions,
): (route: WebSocketHandlerOptions) => void {
  const { pluginId, mountPath, rootHttpRouter, auth, config, errorHandler, metrics } = options;
  const allowNone = config.getOptionalBoolean(DISABLE_DEFAULT_AUTH_POLICY_KEY) ?? false;
  const trustProxy = config.getOptional(TRUST_PROXY_CONFIG_KEY);
  const base = mountPath.replace(/\/+$/, '');
  const authentications = new WeakMap<IncomingMessage, Promise<UpgradeAuthentication>>();
  const authenticated = new WeakMap<IncomingMessage, UpgradeAuthentication>();
  // Once per upgrade: the limiter verifies first (through the reader), the authentication step reuses it.
  const authenticate = (request: IncomingMessage, authPolicy: AuthPolicy) => {
    let authentication = authentications.get(request);
    if (!authentication) {
      authentication =
        authPolicy === 'unauthenticated'
          ? auth.getNoneCredentials().then(credentials => ({ credentials }))
          : authenticateUpgrade(auth, request, allowNone);
      authentications.set(request, authentication);
    }
    return authentication;
  };
  const handOffs = new WeakMap<IncomingMessage, () => void>();
  const allPluginsLimit = createAllPluginsLimitStep(config);
  const limitConnections = createConnectionLimitStep(options.connectionCounters, req =>
    connectionKey(req, authenticated.get(req)?.credentials),
  );

  const refusedByGate = new WeakSet<IncomingMessage>();
  const createApp = (authPolicy: AuthPolicy) => {
    // An app of its own, so that `req.ip` follows `backend.trustProxy` as in the root app, and res.json exists.
    const app = express();
    app.disable('x-powered-by');
    if (trustProxy !== undefined) {
      app.set('trust proxy', trustProxy);
    }
    app.use(allPluginsLimit);
    if (options.rateLimit !== passThrough) app.use(options.rateLimit);
    app.use(function lifecycleGate(req, res, next) {
      options.lifecycleGate(req, res, error => {
        if (error !== undefined) refusedByGate.add(req);
        next(error);
      });
    });
    app.use(function authenticateWebSocket(req, _res, next) {
      authenticate(req, authPolicy).then(result => {
        authenticated.set(req, result);
        next();
      }, next);
    });
    app.use(limitConnections);
    app.use(function handOffWebSocket(req) {
      handOffs.get(req)?.();
    });
    app.use(errorHandler);
    return app;
  };

  /** Runs the checks; resolves with the authentication when the upgrade passed, `undefined` when refused. */
  const check = (
    app: express.Express,
    authPolicy: AuthPolicy,
    request: IncomingMessage,
    socket: Duplex,
  ): Promise<UpgradeAuthentication | undefined> => {
    const reader: CredentialsReader = {
      offered: authPolicy !== 'unauthenticated' && readUpgradeTokens(request).tokens.length > 0,
      verify: () => authenticate(request, authPolicy).then(({ credentials }) => credentials),
    };
    const res = new ServerResponse(request) as ServerResponse & { locals: object };
    // express keeps `res.locals` that exist when it takes the request.
    res.locals = { [CREDENTIALS_READER]: reader };
    res.assignSocket(socket as Socket);
    res.setHeader('Connection', 'close');
    return new Promise((resolve, reject) => {
      const onClose = () => resolve(undefined);
      handOffs.set(request, () => {
        socket.off('close', onClose);
        res.detachSocket(socket as Socket);
        resolve(authenticated.get(request));
      });
      res.once('finish', () => {
        metrics?.recordUpgrade(refusalOutcome(res.statusCode, refusedByGate.has(request)));
        socket.end(() => socket.destroy());
        resolve(undefined);
      });
      socket.once('close', onClose);
      app(request as Request, res as unknown as express.Response, (error?: unknown) =>
        error === undefined ? resolve(undefined) : reject(error),
      );
    });
  };

  return function addWebSocketHandler(route) {
    const { path, handler, authPolicy } = route ?? {};
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new TypeError(
        `addWebSocketHandler() of plugin '${pluginId}' expects a path starting with '/', got ${JSON.stringify(path)}`,
      );
    }
    if (typeof handler !== 'function') {
      throw new TypeError(
        `addWebSocketHandler() of plugin '${pluginId}' expects a handler function`,
      );
    }
    if (authPolicy !== undefined && authPolicy !== 'unauthenticated') {
      throw new TypeError(
        `addWebSocketHandler() of plugin '${pluginId}' expects authPolicy 'unauthenticated' or none, got ${JSON.stringify(authPolicy)}`,
      );
    }
    const app = createApp(authPolicy);
    const fullPath = `${base}${path === '/' ? '' : path}`;
    try {
      rootHttpRouter.addWebSocketHandler({
        path: fullPath,
        async handler({ request, socket, head }) {
          const authentication = await check(app, authPolicy, request, socket);
          if (!authentication || socket.destroyed) {
            return;
          }
          metrics?.recordUpgrade('accepted');
          metrics?.addOpen(1);
          socket.once('close', () => metrics?.addOpen(-1));
          await handler({ request, socket, head, ...authentication });
        },
      });
    } catch (error) {
      throw new TypeError(
        `addWebSocketHandler() of plugin '${pluginId}' could not register '${fullPath}': ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
}
