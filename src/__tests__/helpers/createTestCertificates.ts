import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A throwaway certificate authority and a server certificate it signed for 127.0.0.1, as PEM files. */
export interface TestCertificates {
  /** The authority's certificate: what a client must trust. */
  readonly caFile: string;
  /** The server's certificate, valid for the IP address 127.0.0.1. */
  readonly certFile: string;
  /** The server's private key. */
  readonly keyFile: string;
  /** Removes the files. */
  remove(): Promise<void>;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args);
  } catch (error) {
    throw new Error(
      `The TLS tests need OpenSSL's 'openssl' on PATH to make a test certificate, but 'openssl ${args[0]}' failed: ` +
        `${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Makes a certificate authority and a server certificate for 127.0.0.1 in a temporary directory, with `openssl`.
 *
 * @remarks
 * Valid for one day. The authority is marked as one explicitly, whatever the local `openssl.cnf` defaults to.
 * Call `remove()` when done.
 */
export async function createTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'tls-'));
  const file = (name: string) => join(dir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await openssl([
      'req', '-x509', ...newKey, '-days', '1', '-subj', '/CN=backstage-http-router test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', file('ca.key'), '-out', file('ca.pem'),
    ]); // prettier-ignore
    await openssl([
      'req', ...newKey, '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr'),
    ]); // prettier-ignore
    await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    await openssl([
      'x509', '-req', '-days', '1', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
      '-CAcreateserial', '-extfile', file('server.ext'), '-out', file('server.pem'),
    ]); // prettier-ignore
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
