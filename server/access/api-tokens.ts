import { createHash, randomBytes } from 'node:crypto';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ApiRole, ApiToken, ApiTokenRepo, AuditRepo } from '../store/types.js';

/** API secrets carry a prefix so a leaked one is recognisable (and never confused with a boot token). */
const PREFIX = 'rbt_';

export const API_ROLES: readonly ApiRole[] = ['admin', 'viewer'];

export function secretSha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Creates a token and returns its secret: the only time the secret exists outside the caller's hands. */
export async function issueApiToken(repo: ApiTokenRepo, name: string, role: ApiRole): Promise<{ token: ApiToken; secret: string }> {
  const secret = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  const token = await repo.create({ name, role, secretSha256: secretSha256(secret) });
  return { token, secret };
}

/** The live token for a presented secret, or null. */
export async function authenticateApiToken(repo: ApiTokenRepo, secret: string): Promise<ApiToken | null> {
  if (!secret.startsWith(PREFIX) || secret.length > 256) return null;
  return repo.findBySecretSha256(secretSha256(secret));
}

export const ADMIN_TOKEN_FILE = 'admin.token';

/**
 * First start: with no token in the store, nobody could use the API, so an admin token is created and
 * its secret written to `<dataDir>/admin.token` (0600). The log names the file, never the secret.
 */
export async function ensureBootstrapToken(repo: ApiTokenRepo, audit: AuditRepo, dataDir: string, log: Logger): Promise<void> {
  if ((await repo.list()).length > 0) return;
  const { secret } = await issueApiToken(repo, 'bootstrap-admin', 'admin');
  await audit.append({ actor: 'rackboot', role: null, action: 'tokens bootstrap', target: 'bootstrap-admin', status: null, outcome: 'ok', detail: { role: 'admin' } });
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${secret}\n`, { mode: 0o600 });
  await rename(tmp, path);
  log.warn({ path }, 'no API token existed: created admin token "bootstrap-admin"; its secret is in this file (mode 0600)');
}
