import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

// BMC passwords are stored sealed with AES-256-GCM under a key that lives in its own file, outside the
// database: a copied or leaked rackboot.db alone reveals no credential. A sealed value names the key it
// was sealed with (first bytes of the key's SHA-256), so a wrong key file is reported as such instead of
// as a generic decryption failure.

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;

export class CredentialError extends Error {
  constructor(
    readonly code: 'RB_CREDENTIAL_KEY_MISMATCH' | 'RB_CREDENTIAL_CORRUPT' | 'RB_CREDENTIAL_KEY_INVALID',
    message: string,
  ) {
    super(message);
  }
}

export class CredentialCipher {
  readonly keyId: string;

  constructor(
    private readonly key: Buffer,
    /** Where the key came from, for error messages. */
    readonly keyPath: string,
  ) {
    if (key.length !== KEY_BYTES) throw new CredentialError('RB_CREDENTIAL_KEY_INVALID', `${keyPath} must hold exactly ${KEY_BYTES} bytes (it has ${key.length})`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** `v1:<keyId>:<iv>:<tag>:<ciphertext>`, base64url parts. `context` (e.g. the machine id) is bound as AAD. */
  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return [VERSION, this.keyId, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join(':');
  }

  open(sealed: string, context: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new CredentialError('RB_CREDENTIAL_CORRUPT', 'the stored credential is not in a format this rackboot knows');
    const [, keyId, iv, tag, ct] = parts as [string, string, string, string, string];
    if (keyId !== this.keyId) {
      throw new CredentialError(
        'RB_CREDENTIAL_KEY_MISMATCH',
        `the stored BMC credential was encrypted with another key (key id ${keyId}) than the one in ${this.keyPath} (key id ${this.keyId}); restore the original key file or register the BMC again`,
      );
    }
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      d.setAAD(Buffer.from(context, 'utf8'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    } catch {
      throw new CredentialError('RB_CREDENTIAL_CORRUPT', `the stored BMC credential fails its integrity check under the key in ${this.keyPath} (altered, or stored for another machine)`);
    }
  }
}

/** Reads the key file, or creates it (0600, directory 0700) with a random key at first start. */
export async function loadOrCreateCredentialKey(path: string): Promise<CredentialCipher> {
  try {
    const key = await readFile(path);
    return new CredentialCipher(key, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
  // writeFile's mode passes through the umask; make it exactly 0600.
  await chmod(path, 0o600);
  return new CredentialCipher(await readFile(path), path);
}
