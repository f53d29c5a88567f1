import express from 'express';
import request from 'supertest';
import { onlyUnderPath } from '../../middleware/onlyUnderPath';

describe('onlyUnderPath', () => {
  function setup() {
    const app = express();
    app.use(
      onlyUnderPath('/.backstage/auth/v1/', (req, res) => {
        res.json({ guarded: req.path });
      }),
    );
    app.use((_req, res) => {
      res.status(404).json({ passed: true });
    });
    return app;
  }

  it.each([
    ['/.backstage/auth/v1/jwks.json', 200],
    ['/.BACKSTAGE/Auth/V1/cookie', 200],
    ['/.backstage/auth/v1/', 200],
    ['/.backstage/auth/v1/jwks.json?x=1', 200],
    ['/.backstage/auth/v1', 404],
    ['/.backstage/auth/v2/jwks.json', 404],
    ['/x/.backstage/auth/v1/jwks.json', 404],
    ['/hello', 404],
    ['/', 404],
  ])('%s reaches the guarded handler: %s', async (path, status) => {
    expect((await request(setup()).get(path)).status).toBe(status);
  });
});
