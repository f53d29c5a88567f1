import express from 'express';
import Router from 'express-promise-router';
import { createOkRouter } from './createOkRouter';
import { listenOnLoopback, type LoopbackServer } from './listenOnLoopback';

/**
 * The limit the factories approach: express, one promise router at `/api/test` and the plugin's routes.
 *
 * @remarks
 * No auth, no rate limiting, no error handler beyond express's own.
 */
export async function startBareExpress(): Promise<LoopbackServer> {
  const app = express();
  const pluginRouter = Router();
  pluginRouter.use(createOkRouter());
  app.use('/api/test', pluginRouter);
  return listenOnLoopback(app);
}
