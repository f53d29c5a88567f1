import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import express from 'express';
import Router from 'express-promise-router';

/**
 * A plugin written the way any Backstage plugin is: it only talks to the `httpRouter` service.
 */
export const examplePlugin = createBackendPlugin({
  pluginId: 'example',
  register(env) {
    env.registerInit({
      deps: { http: coreServices.httpRouter, logger: coreServices.logger },
      async init({ http, logger }) {
        const router = Router();
        router.use(express.json());
        router.get('/hello', async (_req, res) => {
          res.json({ hello: 'world' });
        });
        router.get('/public/:id', async (req, res) => {
          if (req.params.id === 'missing') {
            throw new NotFoundError(`No item with id '${req.params.id}'`);
          }
          res.json({ id: req.params.id, public: true });
        });
        http.use(router);
        http.addAuthPolicy({ path: '/public/:id', allow: 'unauthenticated' });
        logger.info('Example plugin ready: try GET /api/example/hello and /api/example/public/42');
      },
    });
  },
});
