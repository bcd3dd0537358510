import { resolve } from 'node:path';
import type { ApiTarget } from './api-client.js';
import { apiOrFail, resolveMachine } from './api-call.js';

interface SyncSummary {
  seen: number;
  created: string[];
  updated: string[];
  unchanged: number;
  skipped: Array<{ systemId: string; hostname: string; reason: string }>;
}

/** `rackboot maas sync`: import and refresh machines from MAAS through the running service. */
export async function maasSync(t: ApiTarget, out: NodeJS.WriteStream): Promise<number> {
  const s = await apiOrFail<SyncSummary>(t, 'POST', '/api/v1/maas/sync');
  out.write(`MAAS machines: ${s.seen}; created ${s.created.length}, updated ${s.updated.length}, unchanged ${s.unchanged}, skipped ${s.skipped.length}\n`);
  for (const k of s.skipped) out.write(`  skipped ${k.systemId} (${k.hostname}): ${k.reason}\n`);
  return 0;
}

/** `rackboot maas upload-image PATH --name NAME`: the service uploads the ddgz image (a path on its host) to MAAS. */
export async function maasUploadImage(t: ApiTarget, path: string, name: string, out: NodeJS.WriteStream): Promise<number> {
  const a = await apiOrFail<{ sha256: string; meta: { maasName: string; resourceId: number } }>(t, 'POST', '/api/v1/maas/images', { json: { path: resolve(path), name } });
  out.write(`${name}: MAAS ${a.meta.maasName} (boot resource ${a.meta.resourceId}), sha256 ${a.sha256}\n`);
  return 0;
}

/** `rackboot release NAME|ID`: MAAS teardown (stop following, unlock, release). */
export async function maasRelease(t: ApiTarget, target: string, out: NodeJS.WriteStream): Promise<number> {
  const id = await resolveMachine(t, target);
  const r = await apiOrFail<{ systemId: string; released: boolean; unlocked: boolean }>(t, 'POST', `/api/v1/machines/${id}/release`);
  out.write(`${target}: MAAS machine ${r.systemId} ${r.released ? 'released' : 'was already released'}${r.unlocked ? ' (unlocked first)' : ''}\n`);
  return 0;
}
