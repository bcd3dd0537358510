import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../access/api-tokens.js';
import type { ResolvedConfig } from '../config/load.js';

/** Where CLI commands reach a running rackboot, and with which token. */
export interface ApiTarget {
  base: string;
  headers: Record<string, string>;
}

/** The token comes from --token, else RACKBOOT_TOKEN, else the bootstrap admin token in the data directory. */
export async function apiTarget(cfg: ResolvedConfig, server: string | undefined, tokenOption?: string): Promise<ApiTarget> {
  const base = (server ?? `http://127.0.0.1:${cfg.http.port}`).replace(/\/+$/, '');
  let token = tokenOption?.trim() || process.env.RACKBOOT_TOKEN?.trim();
  if (token === undefined || token === '') {
    token = await readFile(join(cfg.dataDir, ADMIN_TOKEN_FILE), 'utf8').then(
      (s) => s.trim(),
      () => undefined,
    );
  }
  return { base, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } };
}
