// `rackboot lab down`: stops the processes recorded in <dir>/lab.json by their PIDs and deletes the
// recorded namespace (its bridge and taps go with it). Nothing else is touched.

import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { deleteLabNamespace, namespacePids } from './lab-network.js';
import { stopRecorded } from './lab-processes.js';
import { labStateFile, readLabState } from './lab-state.js';

type Out = Pick<NodeJS.WriteStream, 'write'>;

/** 0 when the lab is gone, 1 when there was none to take down or something survived. */
export async function labDown(dirArg: string, out: Out): Promise<number> {
  const dir = resolve(dirArg);
  const read = readLabState(dir);
  if (!read.ok) {
    out.write(`${read.message}\n`);
    return 1;
  }
  const s = read.state;
  // The vbmc first (it powers its VMs off), the API forwarder and rackboot after it.
  const order = [...s.processes].reverse();
  for (const p of order) out.write(`${p.name} (pid ${p.pid}): ${await stopRecorded(p, p.name === 'vbmc' ? 30_000 : 10_000)}\n`);
  if (s.namespaceCreated) {
    // Only the lab enters its namespace; anything still in it was started by the lab's processes.
    const left = namespacePids(s.namespace);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (left.length > 0) out.write(`killed ${left.length} leftover process(es) in ${s.namespace}: ${left.join(' ')}\n`);
    await waitGone(left);
    out.write(deleteLabNamespace(s.namespace) ? `namespace ${s.namespace} deleted\n` : `namespace ${s.namespace} was already gone\n`);
  }
  rmSync(labStateFile(dir));
  out.write(`lab in ${dir} is down (logs and data kept there)\n`);
  return 0;
}

async function waitGone(pids: number[]): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
}
