import type { ApiTarget } from './api-client.js';
import { apiCall, resolveMachine } from './api-call.js';

/** `rackboot provision NAME|ID`: asks a running rackboot to install the machine again. */
export async function provisionMachine(t: ApiTarget, target: string, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const id = await resolveMachine(t, target);
  const r = await apiCall<{ name: string; state: string }>(t, 'POST', `/api/v1/machines/${id}/provision`);
  if (!r.ok) {
    err.write(`rackboot: provision refused (${r.status}): ${r.problem.detail ?? 'unknown error'}\n`);
    return r.status === 409 ? 3 : 1;
  }
  out.write(`${r.body.name}: ${r.body.state}; its next network boot starts the installer (earlier boot URLs are revoked)\n`);
  return 0;
}
