import type { AuthService } from '@backstage/backend-plugin-api';
import request from 'supertest';
import { createAuthIntegrationRouter } from '../../index';
import { createTestApp } from '../helpers/createTestApp';

const PUBLIC_KEY = { kty: 'EC', crv: 'P-256', kid: 'test-key', x: 'x', y: 'y', alg: 'ES256' };

/** An auth service whose only method used here is `listPublicServiceKeys`. */
const authListing = (listPublicServiceKeys: AuthService['listPublicServiceKeys']) =>
  ({ listPublicServiceKeys }) as AuthService;

describe('createAuthIntegrationRouter', () => {
  function setup() {
    const auth = authListing(async () => ({ keys: [PUBLIC_KEY] }));
    return createTestApp(createAuthIntegrationRouter({ auth }), (_req, res) => {
      res.status(418).json({ fellThrough: true });
    });
  }

  it('serves the public service keys', async () => {
    const res = await request(setup()).get('/.backstage/auth/v1/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: [PUBLIC_KEY] });
  });

  it('passes other paths and methods on', async () => {
    expect((await request(setup()).get('/.backstage/auth/v1/other')).status).toBe(418);
    expect((await request(setup()).post('/.backstage/auth/v1/jwks.json')).status).toBe(418);
  });

  it('answers a failing key listing with the error body', async () => {
    const auth = authListing(async () => {
      throw new Error('key store down');
    });
    const res = await request(createTestApp(createAuthIntegrationRouter({ auth }))).get(
      '/.backstage/auth/v1/jwks.json',
    );
    expect(res.status).toBe(500);
    expect(res.body.error.message).toBe('key store down');
  });
});
