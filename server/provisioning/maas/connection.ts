import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { MaasClient, type MaasError } from '../../../maas/index.js';
import type { MaasConfig } from '../../config/schema.js';

export type ConnectResult = { ok: true; client: MaasClient } | { ok: false; reason: string };

/** Builds the MAAS client from rackboot.yaml. The key is read here and lives only inside the client. */
export async function connectMaas(cfg: MaasConfig, log: Logger, opts: { now?: () => number } = {}): Promise<ConnectResult> {
  let apiKey = cfg.apiKey;
  if (apiKey === undefined && cfg.apiKeyFile !== undefined) {
    try {
      apiKey = (await readFile(cfg.apiKeyFile, 'utf8')).split('\n')[0]!.trim();
    } catch (e) {
      return { ok: false, reason: `maas.apiKeyFile: cannot read ${cfg.apiKeyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
  }
  const mlog = log.child({ component: 'maas' });
  // The client logs method, path, op and status only; its messages never carry the key.
  const created = MaasClient.create({
    baseUrl: cfg.url,
    apiKey: apiKey ?? '',
    timeoutMs: Math.round(cfg.requestTimeoutSeconds * 1000),
    logger: { debug: (o, m) => mlog.debug(o, m), warn: (o, m) => mlog.warn(o, m) },
    ...(opts.now !== undefined ? { now: opts.now } : {}),
  });
  if (!created.ok) return { ok: false, reason: `maas: ${created.error.message}` };
  return { ok: true, client: created.value };
}

/** One line for the timeline or an API answer: MAAS's own sentence, with the status it named. */
export function describeMaasError(e: MaasError): string {
  return e.message;
}

/** Failures where MAAS may still have done the work or may answer later: re-read before deciding. */
export function isTransient(e: MaasError): boolean {
  return (
    e.code === 'RB_MAAS_NETWORK' ||
    e.code === 'RB_MAAS_TIMEOUT' ||
    e.code === 'RB_MAAS_UNAVAILABLE' ||
    e.code === 'RB_MAAS_GATEWAY_TIMEOUT' ||
    e.code === 'RB_MAAS_SERVER_ERROR' ||
    e.code === 'RB_MAAS_CONFLICT'
  );
}
