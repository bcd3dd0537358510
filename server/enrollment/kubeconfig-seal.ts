// Kubeconfigs are stored sealed with AES-256-GCM under a key kept in its own file, outside the
// store: a copied database alone does not give cluster-admin access.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const PREFIX = 'aes256gcm:v1:';

/** Reads the 32-byte key, creating it (mode 0600) on first use. */
export async function loadOrCreateSealKey(path: string): Promise<Buffer> {
  try {
    const k = await readFile(path);
    if (k.length !== 32) throw new Error(`${path} must hold exactly 32 bytes (it has ${k.length}); restore the right key file`);
    return k;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dirname(path), { recursive: true });
  const k = randomBytes(32);
  await writeFile(path, k, { mode: 0o600, flag: 'wx' });
  return k;
}

export function seal(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

/** The plaintext, or undefined when the value was not sealed with this key (or was altered). */
export function unseal(key: Buffer, sealed: string): string | undefined {
  if (!sealed.startsWith(PREFIX)) return undefined;
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
  if (raw.length < 28) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
