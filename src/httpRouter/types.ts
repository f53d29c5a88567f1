import type { BackstageCredentials } from '@backstage/backend-plugin-api';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * What a plugin's WebSocket handler receives: `HttpRouterServiceWebSocketContext` of backend-plugin-api 1.12,
 * declared here so that this package also builds against 1.10, which has no WebSockets.
 *
 * @public
 */
export interface WebSocketUpgradeContext {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  credentials: BackstageCredentials;
  /** The offered `Sec-WebSocket-Protocol` value that authenticated the caller, if any. */
  authProtocol?: string;
}

/**
 * The options of `addWebSocketHandler`: `HttpRouterServiceWebSocketHandler` of backend-plugin-api 1.12.
 *
 * @public
 */
export interface WebSocketHandlerOptions {
  /** An exact path relative to the plugin's mount path; `/` is the mount path itself. */
  path: string;
  /** Takes the socket over (or closes it) once the upgrade passed every check. */
  handler(context: WebSocketUpgradeContext): void | Promise<void>;
  /** `unauthenticated` leaves authentication to the handler. Defaults to token authentication. */
  authPolicy?: 'unauthenticated';
}

/**
 * The part of backend-plugin-api 1.12's `RootHttpRouterService` that routes upgrades; absent before 1.12.
 *
 * @internal
 */
export interface RootWebSocketRouter {
  addWebSocketHandler(options: {
    path: string;
    handler(context: {
      request: IncomingMessage;
      socket: Duplex;
      head: Buffer;
    }): void | Promise<void>;
  }): void;
}
