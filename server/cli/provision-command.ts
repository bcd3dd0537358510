import type { ApiTarget } from './api-client.js';
import { apiCall, resolveMachine } from './api-call.js';

/** `rackboot provision NAME|ID [--via maas|netboot] [--image NAME]`: asks a running rackboot to install the machine again. */
export async function provisionMachine(t: ApiTarget, target: string, out: NodeJS.WriteStream, err: NodeJS.WriteStream, opts: { via?: 'maas' | 'netboot'; image?: string } = {}): Promise<number> {
  const id = await resolveMachine(t, target);
  const body = { ...(opts.via !== undefined ? { via: opts.via } : {}), ...(opts.image !== undefined ? { image: opts.image } : {}) };
  const r = await apiCall<{ name: string; state: string }>(t, 'POST', `/api/v1/machines/${id}/provision`, Object.keys(body).length > 0 ? { json: body } : undefined);
  if (!r.ok) {
    err.write(`rackboot: provision refused (${r.status}): ${r.problem.detail ?? 'unknown error'}\n`);
    return r.status === 409 ? 3 : 1;
  }
  out.write(
    opts.via === 'maas'
      ? `${r.body.name}: ${r.body.state}; MAAS is deploying it (follow with rackboot events ${r.body.name} -f)\n`
      : `${r.body.name}: ${r.body.state}; its next network boot starts the installer (earlier boot URLs are revoked)\n`,
  );
  return 0;
}
