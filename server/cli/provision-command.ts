import type { ResolvedConfig } from '../config/load.js';
import { apiTarget } from './api-client.js';

/** `rackboot provision NAME|ID`: asks a running rackboot to install the machine again. */
export async function provisionMachine(cfg: ResolvedConfig, target: string, server: string | undefined, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const { base, headers } = await apiTarget(cfg, server);
  let id = target;
  try {
    if (!/^[0-9a-f-]{36}$/.test(target)) {
      const r = await fetch(`${base}/api/v1/machines?limit=1000`, { headers });
      const list = (await r.json()) as { items?: Array<{ id: string; name: string }>; detail?: string };
      if (!r.ok) {
        err.write(`rackboot: listing machines failed (${r.status}): ${list.detail ?? 'unknown error'}\n`);
        return 1;
      }
      const m = list.items?.find((x) => x.name === target);
      if (m === undefined) {
        err.write(`rackboot: no machine named '${target}'\n`);
        return 1;
      }
      id = m.id;
    }
    const r = await fetch(`${base}/api/v1/machines/${id}/provision`, { method: 'POST', headers });
    const body = (await r.json()) as { name?: string; state?: string; detail?: string };
    if (!r.ok) {
      err.write(`rackboot: provision refused (${r.status}): ${body.detail ?? 'unknown error'}\n`);
      return r.status === 409 ? 3 : 1;
    }
    out.write(`${body.name}: ${body.state}; its next network boot starts the installer (earlier boot URLs are revoked)\n`);
    return 0;
  } catch (e) {
    err.write(`rackboot: cannot reach ${base}: ${(e as Error).message}\n`);
    return 1;
  }
}
