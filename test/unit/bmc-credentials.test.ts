import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MachineTokens } from '../../server/boot/machine-tokens.js';
import { CredentialCipher, CredentialError, loadOrCreateCredentialKey } from '../../server/secrets/credential-cipher.js';

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});
const tmp = () => (dir = mkdtempSync(join(tmpdir(), 'rb-cred-')));

function thrown(fn: () => unknown): CredentialError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CredentialError) return e;
    throw e;
  }
  throw new Error('expected a CredentialError');
}

describe('BMC credential cipher (AES-256-GCM, key file outside the store)', () => {
  it('creates the key file 0600 in a 0700 directory at first start and reads the same key afterwards', async () => {
    const path = join(tmp(), 'secrets', 'bmc.key');
    const a = await loadOrCreateCredentialKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir!, 'secrets')).mode & 0o777).toBe(0o700);
    expect(statSync(path).size).toBe(32);
    const b = await loadOrCreateCredentialKey(path);
    expect(b.keyId).toBe(a.keyId);
    expect(b.open(a.seal('pw', 'm1'), 'm1')).toBe('pw');
  });

  it('seals with a fresh IV each time; the sealed text does not contain the password', () => {
    const c = new CredentialCipher(randomBytes(32), '/k');
    const s1 = c.seal('calvin-calvin', 'm1');
    const s2 = c.seal('calvin-calvin', 'm1');
    expect(s1).not.toBe(s2);
    expect(s1).not.toContain('calvin');
    expect(Buffer.from(s1.split(':')[4]!, 'base64url').toString('utf8')).not.toContain('calvin');
    expect(c.open(s1, 'm1')).toBe('calvin-calvin');
  });

  it('a wrong key file is reported as such, naming the key file', () => {
    const c = new CredentialCipher(randomBytes(32), '/etc/rackboot/old.key');
    const other = new CredentialCipher(randomBytes(32), '/etc/rackboot/bmc.key');
    const err = thrown(() => other.open(c.seal('pw', 'm1'), 'm1'));
    expect(err.code).toBe('RB_CREDENTIAL_KEY_MISMATCH');
    expect(err.message).toContain('/etc/rackboot/bmc.key');
    expect(err.message).toMatch(/encrypted with another key/);
  });

  it('a tampered value, or one moved to another machine, fails the integrity check', () => {
    const c = new CredentialCipher(randomBytes(32), '/k');
    const sealed = c.seal('pw', 'm1');
    expect(thrown(() => c.open(sealed, 'm2')).code).toBe('RB_CREDENTIAL_CORRUPT');
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[4]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[4] = ct.toString('base64url');
    expect(thrown(() => c.open(parts.join(':'), 'm1')).code).toBe('RB_CREDENTIAL_CORRUPT');
    expect(thrown(() => c.open('plain-text', 'm1')).code).toBe('RB_CREDENTIAL_CORRUPT');
  });

  it('refuses a key file of the wrong size with a clear error', async () => {
    const path = join(tmp(), 'short.key');
    writeFileSync(path, randomBytes(16));
    await expect(loadOrCreateCredentialKey(path)).rejects.toThrow(/short\.key must hold exactly 32 bytes \(it has 16\)/);
  });
});

describe('virtual-media tokens', () => {
  const m = { id: '8d1f6c2e-1111-4222-8333-944455556666', tokenGeneration: 3 };
  const secret = randomBytes(32);

  it('are valid until they expire, then report expired', () => {
    let now = 1_800_000_000_000;
    const t = new MachineTokens(secret, () => now);
    const token = t.mediaTokenFor(m, 600);
    expect(token).toMatch(/^1800000600\.[A-Za-z0-9_-]{43}$/);
    expect(t.verifyMedia(m, token)).toBe('ok');
    now += 599_999;
    expect(t.verifyMedia(m, token)).toBe('ok');
    now += 1;
    expect(t.verifyMedia(m, token)).toBe('expired');
  });

  it('cannot be extended, reused for another machine or generation, or used as a boot token', () => {
    const t = new MachineTokens(secret, () => 1_800_000_000_000);
    const token = t.mediaTokenFor(m, 600);
    const [, mac] = token.split('.');
    expect(t.verifyMedia(m, `1900000000.${mac}`)).toBe('bad');
    expect(t.verifyMedia({ ...m, tokenGeneration: 4 }, token)).toBe('bad');
    expect(t.verifyMedia({ ...m, id: '8d1f6c2e-1111-4222-8333-944455556667' }, token)).toBe('bad');
    expect(t.verify(m, token)).toBe(false);
    expect(t.verifyMedia(m, t.tokenFor(m))).toBe('bad');
    expect(new MachineTokens(randomBytes(32), () => 1_800_000_000_000).verifyMedia(m, token)).toBe('bad');
  });
});
