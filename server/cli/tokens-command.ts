import { userInfo } from 'node:os';
import { join } from 'node:path';
import { API_ROLES, issueApiToken } from '../access/api-tokens.js';
import type { ResolvedConfig } from '../config/load.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { StoreError, type ApiRole } from '../store/types.js';

// Token administration works on the store directly: it is what an operator on the rackboot host uses
// to get in when no token is at hand.

export async function createToken(cfg: ResolvedConfig, name: string | undefined, role: string | undefined, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  if (name === undefined || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    err.write('rackboot: --name is required: 1-64 letters, digits, dot, dash or underscore\n');
    return 2;
  }
  if (role === undefined || !(API_ROLES as readonly string[]).includes(role)) {
    err.write(`rackboot: --role must be one of ${API_ROLES.join(', ')}\n`);
    return 2;
  }
  const store = openSqliteStore(join(cfg.dataDir, 'rackboot.db'));
  try {
    const { token, secret } = await issueApiToken(store.apiTokens, name, role as ApiRole);
    await store.audit.append({ actor: cliActor(), role: null, action: 'tokens create', target: name, status: null, outcome: 'ok', detail: { role } });
    err.write(`created ${token.role} token '${token.name}'; the secret below is shown only now:\n`);
    out.write(`${secret}\n`);
    return 0;
  } catch (e) {
    if (e instanceof StoreError && e.code === 'RB_CONFLICT') {
      err.write(`rackboot: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await store.close();
  }
}

export async function listTokens(cfg: ResolvedConfig, out: NodeJS.WriteStream): Promise<number> {
  const store = openSqliteStore(join(cfg.dataDir, 'rackboot.db'));
  try {
    out.write(`${'NAME'.padEnd(24)} ${'ROLE'.padEnd(7)} ${'CREATED'.padEnd(24)} REVOKED\n`);
    for (const t of await store.apiTokens.list()) out.write(`${t.name.padEnd(24)} ${t.role.padEnd(7)} ${t.createdAt.padEnd(24)} ${t.revokedAt ?? '-'}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

export async function revokeToken(cfg: ResolvedConfig, name: string, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const store = openSqliteStore(join(cfg.dataDir, 'rackboot.db'));
  try {
    const t = await store.apiTokens.revoke(name);
    await store.audit.append({ actor: cliActor(), role: null, action: 'tokens revoke', target: name, status: null, outcome: t === null ? 'failed' : 'ok' });
    if (t === null) {
      err.write(`rackboot: no live token named '${name}'\n`);
      return 1;
    }
    out.write(`revoked token '${t.name}'\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** Commands run on the host are audited under the OS user who ran them. */
function cliActor(): string {
  return `cli:${process.env.SUDO_USER ?? userInfo().username}`;
}
