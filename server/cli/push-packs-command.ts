import { resolve } from 'node:path';
import type { ApiTarget } from './api-client.js';
import { apiCall, CliFailure, describeProblem } from './api-call.js';
import { resolveCluster } from './clusters-command.js';
import { structured, table, type OutputFormat } from './output.js';

export interface PushPacksOptions {
  registry?: string;
  repository?: string;
  credentialsFile?: string;
  caFile?: string;
  pin?: string;
  tofu?: boolean;
  insecure?: boolean;
}

interface Pushed {
  registry: string;
  repository: string;
  manifests: { tag: string; digest: string; blobs: { uploaded: number; present: number; mounted: number } }[];
}

/**
 * `rackboot clusters push-packs CLUSTER ARCHIVE`: pushes an OCI image-layout archive (a path on the
 * rackboot host) to the cluster's Zot or `--registry`. Exit 0 pushed, 1 refused or failed (bad
 * archive, registry error), 3 when the cluster has no Zot yet (not enrolled) and no registry is given.
 */
export async function pushPacks(t: ApiTarget, cluster: string, archive: string, o: PushPacksOptions, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const id = await resolveCluster(t, cluster);
  const tls = { ...(o.caFile !== undefined ? { caFile: resolve(o.caFile) } : {}), ...(o.pin !== undefined ? { pinSha256: o.pin } : {}), ...(o.tofu === true ? { trustOnFirstUse: true } : {}), ...(o.insecure === true ? { insecure: true } : {}) };
  const body = {
    archive: resolve(archive),
    ...(o.registry !== undefined ? { registry: o.registry.replace(/\/+$/, '') } : {}),
    ...(o.repository !== undefined ? { repository: o.repository } : {}),
    ...(o.credentialsFile !== undefined ? { credentialsFile: resolve(o.credentialsFile) } : {}),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
  };
  const r = await apiCall<Pushed>(t, 'POST', `/api/v1/clusters/${id}/packs`, { json: body });
  if (!r.ok) throw new CliFailure(describeProblem(r.status, r.problem), r.status === 409 ? 3 : 1);
  if (format !== 'table') {
    out.write(structured(r.body, format));
    return 0;
  }
  out.write(`pushed to ${r.body.registry}/${r.body.repository}\n`);
  out.write(
    table(r.body.manifests, [
      { title: 'tag', value: (m) => m.tag },
      { title: 'digest', value: (m) => m.digest },
      { title: 'uploaded', value: (m) => String(m.blobs.uploaded), align: 'right' },
      { title: 'present', value: (m) => String(m.blobs.present), align: 'right' },
      { title: 'mounted', value: (m) => String(m.blobs.mounted), align: 'right' },
    ]),
  );
  return 0;
}
