import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Makes sure a throw-away ES256 key pair exists for the static plugin key store, and points the
 * `EXAMPLE_PUBLIC_KEY_FILE` and `EXAMPLE_PRIVATE_KEY_FILE` variables that app-config.yaml reads at it.
 */
export function ensureExampleKeys(): void {
  const dir = join(tmpdir(), 'backstage-http-router-example');
  const publicKeyFile = join(dir, 'public.pem');
  const privateKeyFile = join(dir, 'private.pem');
  if (!existsSync(publicKeyFile) || !existsSync(privateKeyFile)) {
    mkdirSync(dir, { recursive: true });
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
  }
  process.env.EXAMPLE_PUBLIC_KEY_FILE ??= publicKeyFile;
  process.env.EXAMPLE_PRIVATE_KEY_FILE ??= privateKeyFile;
}
