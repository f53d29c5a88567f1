import type { LoggerService } from '@backstage/backend-plugin-api';
import type { Request } from 'express';
import { TRUST_PROXY_CONFIG_KEY } from './readRateLimitOptions';

/**
 * Creates the check that warns, once per limiter and problem, when proxy headers show that the limiter counts the
 * wrong address.
 *
 * @remarks
 * Two problems show only at request time, and both make every client behind a proxy look like the proxy:
 * - an allow-listed request carries `X-Forwarded-For` or `Forwarded`, yet `req.ip` is still the socket peer: a
 *   proxy on an allow-listed address (nginx on the backend's host, with the default loopback allow list) makes
 *   every client behind it exempt, that is, rate limiting is off for them;
 * - a counted request carries `X-Forwarded-For` while express's `trust proxy` is off: every client behind that
 *   proxy shares one limit.
 * Each warning names `backend.trustProxy` and the fix. Express reads `X-Forwarded-For` only, never `Forwarded`.
 *
 * express-rate-limit has similar checks, but runs them only in its default key generator (never for skipped
 * requests) and reports them through its own messages; if it ran them for every request and exported them, the
 * second warning here could go.
 *
 * @internal
 */
export function createProxyHeaderCheck(options: {
  policyName: string;
  logger?: LoggerService;
}): (req: Request, allowed: boolean) => void {
  const { policyName, logger } = options;
  let warnedAllowListed = false;
  let warnedUntrusted = false;
  return function checkProxyHeaders(req, allowed) {
    if (!logger || (warnedAllowListed && warnedUntrusted)) {
      return;
    }
    const forwardedFor = req.headers['x-forwarded-for'] !== undefined;
    if (allowed) {
      // req.ip differs from the socket peer only when express took it from a trusted proxy's header.
      const proxied = forwardedFor || req.headers.forwarded !== undefined;
      if (!warnedAllowListed && proxied && req.ip === req.socket?.remoteAddress) {
        warnedAllowListed = true;
        logger.warn(
          `Rate limiter '${policyName}' lets requests from ${req.ip} through uncounted because that address is on ` +
            'its ipAllowList, but they carry an X-Forwarded-For or Forwarded header: a proxy at that address ' +
            'forwards other clients, and none of them is rate limited. Set ' +
            `${TRUST_PROXY_CONFIG_KEY} so that express takes the client's address from X-Forwarded-For (for ` +
            "example 'loopback' for a proxy on the same host; express ignores Forwarded), or take the proxy's " +
            'address off the allow list.',
        );
      }
      return;
    }
    if (!warnedUntrusted && forwardedFor && !req.app.get('trust proxy')) {
      warnedUntrusted = true;
      logger.warn(
        `Rate limiter '${policyName}' saw an X-Forwarded-For header while express 'trust proxy' is off, so ` +
          'every client behind that proxy shares one limit. If the backend runs behind a proxy, set ' +
          `${TRUST_PROXY_CONFIG_KEY} to the number of proxies or their addresses.`,
      );
    }
  };
}
