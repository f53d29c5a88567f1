import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestCertificates, type TestCertificates } from '../helpers/createTestCertificates';
import { freePort } from '../helpers/freePort';
import { type RedisServerHandle, startRedisServer } from '../helpers/redisServer';

const execFileAsync = promisify(execFile);

/** What `countInChildProcess.ts` prints. */
interface ChildReport {
  totals: number[];
  warnings: string[];
  errors: string[];
}

/** Runs the store in a child process, trusting `caFile` on top of Node's built-in authorities when given. */
async function countInChildProcess(
  args: { connection: string; prefix: string; key: string; hits: number },
  caFile?: string,
): Promise<ChildReport> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: caFile };
  if (caFile === undefined) {
    delete env.NODE_EXTRA_CA_CERTS;
  }
  const { stdout } = await execFileAsync(
    process.execPath,
    [
      '--require', 'ts-node/register/transpile-only',
      join(__dirname, 'redis', 'countInChildProcess.ts'),
      args.connection, args.prefix, args.key, String(args.hits),
    ], // prettier-ignore
    // Below jest's own timeout, so that a child that hangs is killed with the test that waits for it.
    { env, timeout: 20_000 },
  );
  return JSON.parse(stdout) as ChildReport;
}

describe('the Redis rate-limit store over TLS (rediss://)', () => {
  let certificates: TestCertificates;
  let redis: RedisServerHandle;
  let tlsPort: number;

  beforeAll(async () => {
    certificates = await createTestCertificates();
    tlsPort = await freePort();
    // The plain port stays open for the test's own redis-cli; the store is only ever given the TLS port.
    redis = await startRedisServer({
      args: [
        '--tls-port', String(tlsPort),
        '--tls-cert-file', certificates.certFile,
        '--tls-key-file', certificates.keyFile,
        '--tls-ca-cert-file', certificates.caFile,
        '--tls-auth-clients', 'no',
      ], // prettier-ignore
    }).catch(error => {
      throw new Error(
        `The TLS tests need a redis-server built with TLS support (Debian's is): ${(error as Error).message}`,
        { cause: error },
      );
    });
  });

  afterAll(async () => {
    await redis?.stop();
    await certificates?.remove();
  });

  it('counts in Redis through a TLS connection to a server whose authority the process trusts', async () => {
    const report = await countInChildProcess(
      {
        connection: `rediss://127.0.0.1:${tlsPort}`,
        prefix: 'rl:plugin:tls:',
        key: 'client-a',
        hits: 3,
      },
      certificates.caFile,
    );

    expect(report).toEqual({ totals: [1, 2, 3], warnings: [], errors: [] });
    expect(await redis.cli('GET', 'rl:plugin:tls:client-a')).toBe('3');
  });

  it('does not count in a server whose certificate it cannot verify: it warns and limits in memory', async () => {
    const report = await countInChildProcess({
      connection: `rediss://127.0.0.1:${tlsPort}`,
      prefix: 'rl:plugin:tls:',
      key: 'client-b',
      hits: 3,
    });

    expect(report.totals).toEqual([1, 2, 3]);
    expect(report.warnings).toEqual([
      expect.stringMatching(
        /rediss:\/\/127\.0\.0\.1:\d+ is unreachable at start-up \(.*certificate.*\)/,
      ),
    ]);
    expect(await redis.cli('EXISTS', 'rl:plugin:tls:client-b')).toBe('0');
  });

  it('does not fall back to a plain connection when the URL asks for TLS', async () => {
    // The plain port never completes a TLS handshake, so the attempt ends with the client's connect timeout (2 s).
    const report = await countInChildProcess(
      {
        connection: `rediss://127.0.0.1:${redis.port}`,
        prefix: 'rl:plugin:tls:',
        key: 'client-c',
        hits: 1,
      },
      certificates.caFile,
    );

    expect(report.totals).toEqual([1]);
    expect(report.warnings).toEqual([expect.stringMatching(/is unreachable at start-up/)]);
    expect(await redis.cli('EXISTS', 'rl:plugin:tls:client-c')).toBe('0');
  });
});
