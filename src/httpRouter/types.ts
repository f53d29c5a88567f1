import type { BackstageCredentials } from '@backstage/backend-plugin-api';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

// backend-plugin-api 1.12's WebSocket types, declared here so that this package also builds against 1.10.

/** What a plugin's WebSocket handler receives (`HttpRouterServiceWebSocketContext`). */
export interface WebSocketUpgradeContext {
  request: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  credentials: BackstageCredentials;
  authProtocol?: string;
}

/** The options of `addWebSocketHandler` (`HttpRouterServiceWebSocketHandler`). */
export interface WebSocketHandlerOptions {
  path: string;
  handler(context: WebSocketUpgradeContext): void | Promise<void>;
  authPolicy?: 'unauthenticated';
}

/** The root router's `addWebSocketHandler`, absent before backend-plugin-api 1.12. */
export interface RootWebSocketRouter {
  addWebSocketHandler(options: {
    path: string;
    handler(
      context: Pick<WebSocketUpgradeContext, 'request' | 'socket' | 'head'>,
    ): void | Promise<void>;
  }): void;
}
