import type { Request } from 'express';
import { createProxyHeaderCheck } from '../../rateLimit/limiter';
import { createMockLogger } from '../helpers/createMockLogger';

/** The parts of a request the check reads: headers, `req.ip`, the socket peer and the app's `trust proxy`. */
function fakeRequest(options: {
  headers?: Record<string, string>;
  ip: string;
  peer?: string;
  trustProxy?: unknown;
}): Request {
  const { headers = {}, ip, peer = ip, trustProxy = false } = options;
  return {
    headers,
    ip,
    socket: { remoteAddress: peer },
    app: { get: (name: string) => (name === 'trust proxy' ? trustProxy : undefined) },
  } as unknown as Request;
}

const XFF = { 'x-forwarded-for': '203.0.113.7' };

describe('createProxyHeaderCheck', () => {
  it.each<[string, Parameters<typeof fakeRequest>[0], boolean, RegExp | undefined]>([
    [
      'allow-listed, X-Forwarded-For, trust proxy off',
      { headers: XFF, ip: '127.0.0.1' },
      true,
      /lets requests from 127\.0\.0\.1 through uncounted.*backend\.trustProxy.*'loopback'/,
    ],
    [
      'allow-listed, Forwarded, trust proxy on (express ignores Forwarded)',
      { headers: { forwarded: 'for=203.0.113.7' }, ip: '127.0.0.1', trustProxy: 'loopback' },
      true,
      /lets requests from 127\.0\.0\.1 through uncounted/,
    ],
    [
      'allow-listed client forwarded by a trusted proxy',
      { headers: XFF, ip: '10.0.0.1', peer: '127.0.0.1', trustProxy: 1 },
      true,
      undefined,
    ],
    ['allow-listed, no proxy header', { ip: '127.0.0.1' }, true, undefined],
    [
      'counted, X-Forwarded-For, trust proxy off',
      { headers: XFF, ip: '198.51.100.1' },
      false,
      /X-Forwarded-For header while express 'trust proxy' is off.*backend\.trustProxy/,
    ],
    [
      'counted, X-Forwarded-For, trust proxy on',
      { headers: XFF, ip: '203.0.113.7', peer: '127.0.0.1', trustProxy: 1 },
      false,
      undefined,
    ],
  ])('%s', (_name, options, allowed, warning) => {
    const logger = createMockLogger();
    const check = createProxyHeaderCheck('plugin-catalog', logger);
    for (let i = 0; i < 3; i++) {
      check(fakeRequest(options), allowed);
    }
    if (warning) {
      expect(logger.warn).toHaveBeenCalledTimes(1);
      expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(warning));
    } else {
      expect(logger.warn).not.toHaveBeenCalled();
    }
  });

  it('warns about each problem once', () => {
    const logger = createMockLogger();
    const check = createProxyHeaderCheck('global', logger);
    check(fakeRequest({ headers: XFF, ip: '127.0.0.1' }), true);
    check(fakeRequest({ headers: XFF, ip: '198.51.100.1' }), false);
    check(fakeRequest({ headers: XFF, ip: '127.0.0.1' }), true);
    check(fakeRequest({ headers: XFF, ip: '198.51.100.2' }), false);
    expect(logger.warn).toHaveBeenCalledTimes(2);
  });
});
