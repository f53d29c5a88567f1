import Router from 'express-promise-router';

/**
 * The plugin's own routes: an async handler that answers `ok` to anything that reaches it.
 *
 * @remarks
 * Shared by bare express and the plugin of both factories, so the sides differ only in what runs
 * before it. It is async on purpose, as plugin routes usually are.
 */
export function createOkRouter() {
  const router = Router();
  router.use(async function ok(_req, res) {
    res.type('text/plain').send('ok');
  });
  return router;
}
