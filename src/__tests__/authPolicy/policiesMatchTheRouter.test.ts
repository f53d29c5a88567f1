import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { pathToRegexp } from 'path-to-regexp';
import { compilePolicyPath, type CompiledPolicyPath } from '../../authPolicy/paths';
import { createAuthPolicyRegistry } from '../../authPolicy/registry';

// A fixed seed keeps every run, and CI, on the same pairs; set AUTH_POLICY_FUZZ_SEED to explore others.
const SEED = Number(process.env.AUTH_POLICY_FUZZ_SEED ?? 20261124);
const POLICY_COUNT = 160;
const REQUEST_COUNT = 110;

/** mulberry32: small, seedable and good enough to spread cases. */
function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  return { next, pick };
}

const LITERALS = [
  'api',
  'Users',
  'health',
  'a.b',
  'x-y',
  'v1',
  'docs',
  'static',
  'a',
  'b',
  'file.json',
];
const UPSTREAM_PIECES = [
  ':id',
  ':a.:b',
  ':a-:b',
  '*rest',
  '{/:opt}',
  'v:ver',
  ':name.json',
  '{.:ext}',
];
const EXPRESS_PIECES = [
  ':id?',
  ':id(\\d+)',
  '*',
  '(.*)',
  ':a-:b?',
  'ab?c',
  'fo+',
  '(x|y)',
  ':id(\\d+)?',
  'a.:ext?',
  ':p*',
];
const REQUEST_SEGMENTS = [
  ...LITERALS,
  'API',
  'USERS',
  '',
  '.',
  '..',
  '%2F',
  '%2e%2e',
  '%00',
  '%zz',
  '%E0%A4',
  ';',
  'a;b',
  'x-y-z',
  'abc',
  'ac',
  'foo',
  'x',
  'y',
  '42',
  'é',
  '\u212Aey',
  'İ',
  'a.b.c',
  'file.JSON',
  '.ext',
  'v2',
  'ab',
  'A.B',
  'x'.repeat(300),
];

function randomPolicy(random: ReturnType<typeof createRandom>): string {
  const count = 1 + Math.floor(random.next() * 3);
  const expressOnly = random.next() < 0.5;
  let path = '';
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    const piece =
      roll < 0.55
        ? random.pick(LITERALS)
        : random.pick(expressOnly ? EXPRESS_PIECES : UPSTREAM_PIECES);
    path += (piece.startsWith('{') ? '' : '/') + piece;
  }
  return random.next() < 0.1 ? `${path}/` : path;
}

function randomRequest(random: ReturnType<typeof createRandom>): string {
  const count = Math.floor(random.next() * 5);
  let path = '';
  for (let i = 0; i < count; i++) {
    path += `/${random.pick(REQUEST_SEGMENTS)}`;
  }
  if (random.next() < 0.15) path += '/';
  if (random.next() < 0.1) path = path.replace('/', '//');
  if (random.next() < 0.1) path += '?q=/api';
  return path || '/';
}

/**
 * Upstream's predicate, made case-sensitive as ours is: path-to-regexp 8 with `end: false`, `'/'` and `'*'`
 * meaning everything.
 */
function upstreamCovers(policy: string, path: string): boolean {
  if (policy === '/' || policy === '*') return true;
  return pathToRegexp(policy, { end: false, sensitive: true }).regexp.test(path);
}

/** Whether the path-to-regexp 8 captures of a covered path percent-decode (see the decoding rule). */
function upstreamCapturesDecode(policy: string, path: string): boolean {
  if (policy === '/' || policy === '*') return true;
  const match = pathToRegexp(policy, { end: false, sensitive: true }).regexp.exec(path);
  return (match ?? []).slice(1).every(value => {
    try {
      decodeURIComponent(value ?? '');
      return true;
    } catch {
      return false;
    }
  });
}

/** A path whose syntax means the same to path-to-regexp 8 and Express 4, so both references apply. */
const BOTH_SYNTAXES =
  /^(?:\/(?:[A-Za-z0-9_.-]+|:[A-Za-z]\w*|[A-Za-z0-9_.-]*(?::[A-Za-z]\w*)?(?:[.-]:[A-Za-z]\w*)?))+$/;

const DOT_SEGMENT_OR_ENCODED_SLASH = /(^|\/)(\.|%2e){1,2}(\/|$)|%2f|%5c|\\/i;

interface Probe {
  /** `req.path` as the credentials barrier, first in the plugin router, sees it. */
  seenPath: string;
  /** Policies whose `router.use(path)` layer received the request. */
  hits: Set<number>;
}

/**
 * One real Express 4 app: the plugin router (case-sensitive, as our matching is) mounted at /api/p, every policy
 * mounted with `router.use`.
 */
function createExpressReference(policies: readonly string[]) {
  const app = express();
  const router = express.Router({ caseSensitive: true });
  let current: Probe = { seenPath: '', hits: new Set() };
  router.use((req, _res, next) => {
    current.seenPath = req.path;
    next();
  });
  const mounted = new Set<number>();
  policies.forEach((policy, index) => {
    try {
      router.use(
        policy,
        (_req: express.Request, _res: express.Response, next: express.NextFunction) => {
          current.hits.add(index);
          next();
        },
        (
          error: unknown,
          _req: express.Request,
          _res: express.Response,
          next: express.NextFunction,
        ) => {
          current.hits.add(index);
          next(error);
        },
      );
      mounted.add(index);
    } catch {
      // Express itself refuses the path; the compiler must refuse it too (asserted below).
    }
  });
  app.use('/api/p', router);

  const handle = (url: string) =>
    new Promise<Probe>(resolve => {
      current = { seenPath: '', hits: new Set() };
      const req = new http.IncomingMessage(new net.Socket());
      req.method = 'GET';
      req.url = url;
      const res = new http.ServerResponse(req);
      const probe = current;
      (app as unknown as { handle: (...args: unknown[]) => void }).handle(req, res, () =>
        resolve(probe),
      );
    });
  return { mounted, handle };
}

describe('auth policies against a real express 4 router', () => {
  it(`cover what express 4 and upstream cover on ${POLICY_COUNT * REQUEST_COUNT}+ pairs (seed ${SEED}, AUTH_POLICY_FUZZ_SEED)`, async () => {
    const random = createRandom(SEED);
    const policies: string[] = [];
    const compiled = new Map<number, CompiledPolicyPath>();
    let rejected = 0;
    while (compiled.size < POLICY_COUNT) {
      const policy = randomPolicy(random);
      const index = policies.length;
      policies.push(policy);
      try {
        compiled.set(index, compilePolicyPath(policy));
      } catch {
        rejected++;
      }
    }
    const reference = createExpressReference(policies);
    for (const index of compiled.keys()) {
      // Every path we accept but upstream does not must be one Express 4 accepts.
      if (compiled.get(index)!.syntax === 'express-4') {
        expect({ policy: policies[index], mounted: reference.mounted.has(index) }).toEqual({
          policy: policies[index],
          mounted: true,
        });
      }
    }
    const registry = createAuthPolicyRegistry({ pluginId: 'p' });
    for (const index of compiled.keys()) {
      registry.add({
        path: policies[index],
        allow: index % 3 === 0 ? 'user-cookie' : 'unauthenticated',
      });
    }

    const disagreements: string[] = [];
    let pairs = 0;
    let covered = 0;
    for (let r = 0; r < REQUEST_COUNT; r++) {
      const request = randomRequest(random);
      const probe = await reference.handle(`/api/p${request}`);
      let expectedAccess: string | undefined;
      for (const [index, c] of compiled) {
        const policy = policies[index];
        const ours = c.matches(probe.seenPath);
        const viaExpress = probe.hits.has(index);
        let expected: boolean;
        if (c.syntax === 'express-4') {
          expected = viaExpress;
        } else {
          expected =
            upstreamCovers(policy, probe.seenPath) &&
            upstreamCapturesDecode(policy, probe.seenPath);
          // A trailing slash is where upstream is narrower than Express (documented); upstream wins there.
          if (BOTH_SYNTAXES.test(policy) && !policy.endsWith('/') && expected !== viaExpress) {
            disagreements.push(
              `express vs upstream on ${JSON.stringify(policy)} ${JSON.stringify(probe.seenPath)}`,
            );
          }
        }
        pairs++;
        if (ours !== expected) {
          disagreements.push(
            `${c.syntax} ${JSON.stringify(policy)} on ${JSON.stringify(probe.seenPath)}: ours ${ours}, reference ${expected}`,
          );
        }
        if (expected) {
          covered++;
          const allow = index % 3 === 0 ? 'user-cookie' : 'unauthenticated';
          if (allow === 'unauthenticated' || expectedAccess === undefined) expectedAccess = allow;
        }
      }
      // Dot segments and encoded slashes are also looked up resolved (the dot segment tests pin that).
      if (!DOT_SEGMENT_OR_ENCODED_SLASH.test(probe.seenPath)) {
        expect({ path: probe.seenPath, access: registry.lookup(probe.seenPath) }).toEqual({
          path: probe.seenPath,
          access: expectedAccess,
        });
      }
    }
    expect(pairs).toBeGreaterThanOrEqual(10_000);
    if (process.env.AUTH_POLICY_FUZZ_STATS)
      console.log({
        rejected,
        express: [...compiled.values()].filter(c => c.syntax === 'express-4').length,
        covered,
      });
    expect(rejected).toBeLessThan(policies.length);
    expect(disagreements.slice(0, 20)).toEqual([]);
  });
});
