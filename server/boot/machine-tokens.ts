import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Per-machine capability tokens for boot and callback URLs: an HMAC of the machine id and its token
 * generation under a secret kept in the data directory. Nothing secret is stored per machine, and
 * rotating a machine's generation revokes every URL handed out before.
 */
export type MediaTokenCheck = 'ok' | 'expired' | 'bad';

export class MachineTokens {
  constructor(
    private readonly secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  tokenFor(m: { id: string; tokenGeneration: number }): string {
    return createHmac('sha256', this.secret).update(`boot:${m.id}:${m.tokenGeneration}`).digest('base64url');
  }

  verify(m: { id: string; tokenGeneration: number }, token: string): boolean {
    return same(this.tokenFor(m), token);
  }

  /**
   * A token for the ISO URLs handed to a BMC as virtual media: `<expiry seconds>.<hmac>`. It expires
   * (a BMC's media URL shows up in its UI and logs) and, like the boot token, dies with the generation.
   */
  mediaTokenFor(m: { id: string; tokenGeneration: number }, ttlSeconds: number): string {
    const expires = Math.floor(this.now() / 1000) + ttlSeconds;
    return `${expires}.${this.mediaMac(m, expires)}`;
  }

  verifyMedia(m: { id: string; tokenGeneration: number }, token: string): MediaTokenCheck {
    const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (match === null) return 'bad';
    const expires = Number(match[1]);
    if (!same(this.mediaMac(m, expires), match[2]!)) return 'bad';
    return this.now() >= expires * 1000 ? 'expired' : 'ok';
  }

  private mediaMac(m: { id: string; tokenGeneration: number }, expires: number): string {
    return createHmac('sha256', this.secret).update(`media:${m.id}:${m.tokenGeneration}:${expires}`).digest('base64url');
  }
}

function same(want: string, got: string): boolean {
  const a = Buffer.from(want);
  const b = Buffer.from(got);
  return a.length === b.length && timingSafeEqual(a, b);
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
