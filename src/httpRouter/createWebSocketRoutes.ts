import type {
  AuthService,
  BackstageCredentials,
  RootConfigService,
} from '@backstage/backend-plugin-api';
import { AuthenticationError, toError } from '@backstage/errors';
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { TooManyRequestsError } from '../errors';
import type { WebSocketMetrics, WebSocketUpgradeOutcome } from '../metrics';
import { DISABLE_CONFIG_KEY } from '../middleware/createCredentialsBarrier';
import { TRUST_PROXY_CONFIG_KEY } from '../rateLimit/config';
import { createAllPluginsLimitStep } from '../rateLimit/createRateLimitMiddleware';
import { clientAddressKey, CREDENTIALS_READER, credentialsReaderOf } from '../rateLimit/limiter';
import type { CredentialsReader } from '../rateLimit/types';
import type { RootWebSocketRouter, WebSocketHandlerOptions } from './types';

/** The most bearer candidates one upgrade may offer, as upstream: each costs a verification. */
const MAX_UPGRADE_TOKEN_CANDIDATES = 5;
/** A place frees when a socket closes, so a refused client may soon try again. */
const CONNECTION_LIMIT_RETRY_AFTER_SECONDS = 1;
const BEARER = /^Bearer[ ]+(\S+)$/i;

type Authentication = { credentials: BackstageCredentials; authProtocol?: string };

/** One upgrade on its way through the checks, kept in `res.locals` as the limiter's credentials reader. */
interface Upgrade extends CredentialsReader {
  protocols: string[];
  tokens: string[];
  unauthenticated: boolean;
  verified?: Promise<Authentication>;
  passed?: Authentication;
  refusedByGate?: boolean;
  handOff(): void;
}

/** The open WebSockets per client of one scope, named in refusals: `in plugin 'x'`, `across all plugins`. */
export type ConnectionCounter = { limit: number; scope: string; open: Map<string, number> };

/**
 * None credentials for an unauthenticated route; else the first token that verifies as a user or service wins,
 * else 403, 503 or 401 (the strongest refusal), as upstream's unexported `authenticateWebSocket`, or none
 * credentials when `allowNone` (the default policy disabled).
 */
async function authenticateUpgrade(auth: AuthService, upgrade: Upgrade, allowNone: boolean) {
  const { protocols, tokens, unauthenticated } = upgrade;
  if (unauthenticated) return { credentials: await auth.getNoneCredentials() };
  if (tokens.length > MAX_UPGRADE_TOKEN_CANDIDATES) {
    throw new AuthenticationError(
      `WebSocket authentication accepts at most ${MAX_UPGRADE_TOKEN_CANDIDATES} token candidates, got ${tokens.length}`,
    );
  }
  let denied, unavailable, invalid: Error | undefined;
  for (const token of tokens) {
    try {
      const credentials = await auth.authenticate(token);
      if (auth.isPrincipal(credentials, 'user') || auth.isPrincipal(credentials, 'service')) {
        return { credentials, authProtocol: protocols.includes(token) ? token : undefined };
      }
    } catch (error) {
      const cause = toError(error);
      if (cause.name === 'NotAllowedError') denied = cause;
      else if (cause.name === 'ServiceUnavailableError') unavailable = cause;
      else invalid ??= new AuthenticationError('Invalid WebSocket credentials', cause);
    }
  }
  if (allowNone) return { credentials: await auth.getNoneCredentials() };
  throw (
    denied ?? unavailable ?? invalid ?? new AuthenticationError('Missing WebSocket credentials')
  );
}

function refusalOutcome(statusCode: number, byLifecycleGate?: boolean): WebSocketUpgradeOutcome {
  if (byLifecycleGate) return 'lifecycle_refused';
  if (statusCode === 429) return 'limited';
  if (statusCode === 401 || statusCode === 403) return 'unauthenticated';
  return statusCode === 503 ? 'unavailable' : 'failed';
}

/** Options for {@link createWebSocketRoutes}: the plugin router's pieces that an upgrade passes too. */
export interface WebSocketRoutesOptions {
  pluginId: string;
  /** WebSocket paths are relative to it. */
  mountPath: string;
  rootHttpRouter: RootWebSocketRouter;
  auth: AuthService;
  config: RootConfigService;
  rateLimit: RequestHandler;
  lifecycleGate: RequestHandler;
  /** The plugin's and the all-plugins counters, each holding a place while the socket is open. */
  connectionCounters: readonly ConnectionCounter[];
  errorHandler: ErrorRequestHandler;
  metrics?: WebSocketMetrics;
}

/**
 * Builds a plugin's `addWebSocketHandler`: an upgrade passes the all-plugins limiter, the plugin's limiter, the
 * lifecycle gate, token authentication and the connection limit, in an express app over a `ServerResponse` bound
 * to the socket, so a refusal gets the same status, headers and body as over HTTP. A hook before the
 * authentication of upstream's `createWebSocketRouter`, and its mount path as an option, would remove this.
 */
export function createWebSocketRoutes(options: WebSocketRoutesOptions) {
  const { pluginId, rootHttpRouter, auth, config, connectionCounters, metrics } = options;
  const allowNone = config.getOptionalBoolean(DISABLE_CONFIG_KEY) ?? false;
  const upgradeOf = (res: Response) => credentialsReaderOf(res) as Upgrade;
  // Once per upgrade: the limiter verifies first (through the reader), the authentication step reuses it.
  const authenticate = (upgrade: Upgrade) =>
    (upgrade.verified ??= authenticateUpgrade(auth, upgrade, allowNone));

  // An app of its own, so that `req.ip` follows `backend.trustProxy` as in the root app, and res.json exists.
  const app = express();
  app.disable('x-powered-by');
  const trustProxy = config.getOptional(TRUST_PROXY_CONFIG_KEY);
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
  app.use(createAllPluginsLimitStep(config), options.rateLimit);
  app.use(function lifecycleGate(req, res, next) {
    options.lifecycleGate(req, res, error => {
      upgradeOf(res).refusedByGate = error !== undefined;
      next(error);
    });
  });
  app.use(function authenticateWebSocket(_req, res, next) {
    const upgrade = upgradeOf(res);
    authenticate(upgrade).then(passed => {
      upgrade.passed = passed;
      next();
    }, next);
  });
  app.use(function webSocketConnectionLimit(req, res, next) {
    const { passed, handOff } = upgradeOf(res);
    const principal = passed?.credentials.principal as Record<string, string> | undefined;
    let key = `address:${clientAddressKey(req)}`;
    if (principal?.type === 'user') key = `user:${principal.userEntityRef}`;
    if (principal?.type === 'service') key = `service:${principal.subject}`;
    const full = connectionCounters.find(({ limit, open }) => (open.get(key) ?? 0) >= limit);
    if (full) {
      const retryAfterSeconds = CONNECTION_LIMIT_RETRY_AFTER_SECONDS;
      res.setHeader('Retry-After', String(retryAfterSeconds));
      const message = `Too many open WebSockets: at most ${full.limit} per client ${full.scope}`;
      return next(new TooManyRequestsError(message, { retryAfterSeconds }));
    }
    const add = (delta: number) =>
      connectionCounters.forEach(({ open }) => {
        const count = (open.get(key) ?? 0) + delta;
        if (count > 0) open.set(key, count);
        else open.delete(key);
      });
    if (!req.socket.destroyed && connectionCounters.length > 0) {
      add(1);
      req.socket.once('close', () => add(-1));
    }
    handOff();
  });
  app.use(options.errorHandler);

  /** Resolves with the authentication when the upgrade passed the checks, `undefined` when refused. */
  const check = (request: IncomingMessage, socket: Socket, unauthenticated: boolean) =>
    new Promise<Authentication | undefined>((resolve, reject) => {
      const res = new ServerResponse(request) as ServerResponse & { locals: object };
      const bearer = request.headers.authorization?.match(BEARER)?.[1];
      const offered = request.headers['sec-websocket-protocol']?.split(',') ?? [];
      const protocols = offered.map(value => value.trim()).filter(Boolean);
      const tokens = bearer ? [...protocols, bearer] : protocols;
      const onClose = () => resolve(undefined);
      const upgrade: Upgrade = {
        ...{ protocols, tokens, unauthenticated },
        offered: !unauthenticated && tokens.length > 0,
        verify: () => authenticate(upgrade).then(({ credentials }) => credentials),
        handOff() {
          socket.off('close', onClose);
          res.detachSocket(socket);
          resolve(upgrade.passed);
        },
      };
      // express keeps `res.locals` that exist when it takes the request.
      res.locals = { [CREDENTIALS_READER]: upgrade };
      res.assignSocket(socket);
      res.setHeader('Connection', 'close');
      res.once('finish', () => {
        metrics?.recordUpgrade(refusalOutcome(res.statusCode, upgrade.refusedByGate));
        socket.end(() => socket.destroy());
        resolve(undefined);
      });
      socket.once('close', onClose);
      app(request as express.Request, res as unknown as Response, (error?: unknown) =>
        error === undefined ? resolve(undefined) : reject(error),
      );
    });

  return function addWebSocketHandler(route: WebSocketHandlerOptions): void {
    const { path, handler, authPolicy } = route ?? {};
    const method = `addWebSocketHandler() of plugin '${pluginId}'`;
    const refuse = (expected: string) => new TypeError(`${method} expects ${expected}`);
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw refuse(`a path starting with '/', got ${JSON.stringify(path)}`);
    }
    if (typeof handler !== 'function') throw refuse('a handler function');
    if (authPolicy !== undefined && authPolicy !== 'unauthenticated') {
      throw refuse(`authPolicy 'unauthenticated' or none, got ${JSON.stringify(authPolicy)}`);
    }
    const fullPath = `${options.mountPath.replace(/\/+$/, '')}${path === '/' ? '' : path}`;
    try {
      rootHttpRouter.addWebSocketHandler({
        path: fullPath,
        async handler({ request, socket, head }) {
          const passed = await check(request, socket as Socket, authPolicy === 'unauthenticated');
          if (!passed || socket.destroyed) return;
          metrics?.recordUpgrade('accepted');
          metrics?.addOpen(1);
          socket.once('close', () => metrics?.addOpen(-1));
          await handler({ request, socket, head, ...passed });
        },
      });
    } catch (cause) {
      const message = `${method} could not register '${fullPath}': ${(cause as Error).message}`;
      throw new TypeError(message, { cause });
    }
  };
}
