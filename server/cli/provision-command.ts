import type { ResolvedConfig } from '../config/load.js';

/** `rackboot provision NAME|ID`: asks a running rackboot to install the machine again. */
export async function provisionMachine(cfg: ResolvedConfig, target: string, server: string | undefined, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const base = (server ?? `http://127.0.0.1:${cfg.http.port}`).replace(/\/+$/, '');
  let id = target;
  try {
    if (!/^[0-9a-f-]{36}$/.test(target)) {
      const list = (await (await fetch(`${base}/api/v1/machines?limit=1000`)).json()) as { items?: Array<{ id: string; name: string }> };
      const m = list.items?.find((x) => x.name === target);
      if (m === undefined) {
        err.write(`rackboot: no machine named '${target}'\n`);
        return 1;
      }
      id = m.id;
    }
    const r = await fetch(`${base}/api/v1/machines/${id}/provision`, { method: 'POST' });
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
