import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Per-machine capability tokens for boot and callback URLs: an HMAC of the machine id and its token
 * generation under a secret kept in the data directory. Nothing secret is stored per machine, and
 * rotating a machine's generation revokes every URL handed out before.
 */
export class MachineTokens {
  constructor(private readonly secret: Buffer) {}

  tokenFor(m: { id: string; tokenGeneration: number }): string {
    return createHmac('sha256', this.secret).update(`boot:${m.id}:${m.tokenGeneration}`).digest('base64url');
  }

  verify(m: { id: string; tokenGeneration: number }, token: string): boolean {
    const want = Buffer.from(this.tokenFor(m));
    const got = Buffer.from(token);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

export async function loadOrCreateSecret(dataDir: string): Promise<Buffer> {
  const dir = join(dataDir, 'secrets');
  const path = join(dir, 'boot-token.key');
  try {
    const key = await readFile(path);
    if (key.length >= 32) return key;
    throw new Error(`${path} is shorter than 32 bytes; delete it to generate a new one (this revokes every boot URL)`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFile(path, key, { mode: 0o600, flag: 'wx' });
  return key;
}
