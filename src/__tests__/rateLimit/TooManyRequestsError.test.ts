import { serializeError } from '@backstage/errors';
import { getErrorStatus } from '../../middleware/createErrorHandler';
import { TooManyRequestsError } from '../../errors';

describe('TooManyRequestsError', () => {
  const error = new TooManyRequestsError('Too many requests', { retryAfterSeconds: 12 });

  it('asks for status 429', () => {
    expect(error.statusCode).toBe(429);
    expect(getErrorStatus(error)).toBe(429);
  });

  it('serializes to a plain Backstage error, without its status or retry fields', () => {
    expect(serializeError(error)).toEqual({
      name: 'TooManyRequestsError',
      message: 'Too many requests',
    });
  });

  it('keeps how long to wait', () => {
    expect(error.retryAfterSeconds).toBe(12);
    expect(error).toBeInstanceOf(Error);
  });
});
