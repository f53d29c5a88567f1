import { credentialsRefusalReason } from '../../middleware/createCredentialsBarrier';

describe('credentialsRefusalReason', () => {
  it.each([
    ['nothing', {}, false, 'missing'],
    ['nothing, on a user-cookie path', {}, true, 'missing'],
    ['other cookies only', { cookie: 'session=1; theme=dark' }, false, 'missing'],
    [
      'a cookie whose name only contains the auth cookie',
      { cookie: 'xbackstage-auth=t' },
      false,
      'missing',
    ],
    ['a bearer token', { authorization: 'Bearer abc' }, false, 'invalid'],
    [
      'a bearer token and the auth cookie',
      { authorization: 'Bearer abc', cookie: 'backstage-auth=t' },
      false,
      'invalid',
    ],
    [
      'the auth cookie where no user-cookie policy applies',
      { cookie: 'a=1; backstage-auth=t' },
      false,
      'limited_access',
    ],
    ['the auth cookie on a user-cookie path', { cookie: 'backstage-auth=t' }, true, 'invalid'],
  ])('%s gives %s', (_name, headers, cookieAllowed, expected) => {
    expect(credentialsRefusalReason({ headers }, cookieAllowed)).toBe(expected);
  });
});
