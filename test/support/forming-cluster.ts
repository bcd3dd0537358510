// A cluster defined through the real API on a `rackboot serve` process: its machines are imported,
// driven to `installed` through their own boot and callback paths, then named in POST /api/v1/clusters.
// Nothing answers on their Local Management API port, so formation stays at its first step.

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { RackbootProcess } from './rackboot-process.js';

/** A loopback port nothing listens on, for `enrollment.localApiPort`, so formation reaches no one. */
export async function closedLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

export interface FormingCluster {
  id: string;
  name: string;
  members: Array<{ machineId: string; name: string; role: string; state: string }>;
}

export async function defineFormingCluster(rb: RackbootProcess, name: string, hosts: Array<{ name: string; mac: string; ip: string }>): Promise<FormingCluster> {
  for (const host of hosts) {
    const r = await rb.api<{ id: string; tokenGeneration: number }>('POST', '/api/v1/machines', { name: host.name, macs: [host.mac], network: { ip: host.ip, prefix: 8 } });
    if (r.status !== 201) throw new Error(`import ${host.name}: ${r.status} ${JSON.stringify(r.body)}`);
    for (const [method, path] of [['GET', '/script.ipxe'], ['POST', '/callback/install-start'], ['POST', '/callback/install-done']] as const) {
      const res = await fetch(rb.bootUrl(r.body, path), { method });
      if (res.status !== 200) throw new Error(`${host.name} ${path}: ${res.status}`);
    }
  }
  const bundle = join(rb.workDir, `${name}-content.tar`);
  writeFileSync(bundle, Buffer.alloc(4096));
  const c = await rb.api<FormingCluster>('POST', '/api/v1/clusters', { name, controlPlane: [hosts[0]!.name], workers: hosts.slice(1).map((x) => x.name), vip: '192.0.2.200', contentBundle: bundle });
  if (c.status !== 201) throw new Error(`define ${name}: ${c.status} ${JSON.stringify(c.body)}`);
  return c.body;
}

/** Waits until the cluster's timeline has at least one event, and returns the events. */
export async function clusterEvents(rb: RackbootProcess, id: string): Promise<Array<{ id: number; kind: string; message: string }>> {
  for (let i = 0; i < 300; i++) {
    const r = await rb.api<{ items: Array<{ id: number; kind: string; message: string }> }>('GET', `/api/v1/clusters/${id}/events`);
    if (r.status === 200 && r.body.items.length > 0) return r.body.items;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`cluster ${id} recorded no event`);
}
