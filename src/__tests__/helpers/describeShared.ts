import express from 'express';
import { IncomingMessage, ServerResponse } from 'node:http';

/** The objects every express app (and every Node HTTP server) in the process shares. */
const SHARED: Array<[string, object]> = [
  ['express.request', express.request],
  ['express.response', express.response],
  ['http.IncomingMessage.prototype', IncomingMessage.prototype],
  ['http.ServerResponse.prototype', ServerResponse.prototype],
];

/** The own property names of each object every express app (and every Node HTTP server) shares. */
export function describeShared(): Record<string, string[]> {
  return Object.fromEntries(
    SHARED.map(([name, object]) => [name, Reflect.ownKeys(object).map(String).sort()]),
  );
}
