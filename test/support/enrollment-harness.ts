// rackboot (in process) wired to a rack of Local Management API stand-ins and a Kubernetes API
// stand-in, with machines put in `installed` through the store, as the install e2e leaves them.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { REQUIRED_IPXE_BINARIES } from '../../server/boot/ipxe-binaries.js';
import { validateConfig } from '../../server/config/load.js';
import type { Machine } from '../../server/inventory/machine.js';
import { normalizeMachineInput } from '../../server/inventory/normalize.js';
import { startService, type RunningService } from '../../server/service.js';
import { KubeStandin } from './kube-standin.js';
import { startStandinRack, type StandinRack } from './local-api-standin/index.js';

export interface EnrollmentLab {
  dir: string;
  rack: StandinRack;
  kube: KubeStandin;
  svc: RunningService;
  api: string;
  machines: Machine[];
  bundle: string;
  /** JSON request to rackboot's API with the admin token. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startEnrollmentLab(o: { hosts: number; base: number; bundleBytes?: number; lifecycle?: Record<string, number> }): Promise<EnrollmentLab> {
  const dir = mkdtempSync(join(tmpdir(), 'rb-enroll-'));
  const kube = new KubeStandin();
  await kube.start();
  const rack = await startStandinRack(o.hosts, {
    base: o.base,
    kubeconfig: (name) => kube.kubeconfig(name),
    // The kubelets come up once the appliance reports the cluster Running.
    onClusterRunning: (nodes) => {
      for (const n of nodes) kube.setNode(n.hostName, n.address, true);
    },
  });
  const ipxeDir = join(dir, 'ipxe');
  mkdirSync(ipxeDir);
  for (const name of REQUIRED_IPXE_BINARIES) writeFileSync(join(ipxeDir, name), randomBytes(512));
  writeFileSync(join(dir, 'localapi.pw'), 'kairos-pw\n', { mode: 0o600 });
  const bundle = join(dir, 'core-content.tar.zst');
  writeFileSync(bundle, randomBytes(o.bundleBytes ?? 2 * 1024 * 1024));
  const r = validateConfig(
    {
      advertiseAddress: '192.0.2.10',
      dataDir: join(dir, 'data'),
      http: { listen: '127.0.0.1', port: 0 },
      tftp: { enabled: false },
      dhcp: { mode: 'off' },
      boot: { ipxeDir },
      enrollment: { localApiPort: rack.port, username: 'kairos', passwordFile: join(dir, 'localapi.pw'), pollMs: 50 },
      ...(o.lifecycle === undefined ? {} : { lifecycle: o.lifecycle }),
    },
    dir,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const svc = await startService(r.config, pino({ level: 'silent' }));
  const addr = svc.http!.server.address();
  const api = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  const token = readFileSync(join(r.config.dataDir, 'admin.token'), 'utf8').trim();
  const machines: Machine[] = [];
  for (const h of rack.hosts) {
    const n = normalizeMachineInput({ name: `node-${h.opts.hostName}`, macs: [`52:54:00:aa:00:${Number(h.address.split('.')[3]).toString(16).padStart(2, '0')}`], network: { ip: h.address, prefix: 8, hostname: h.opts.hostName } });
    if (!n.ok) throw new Error(JSON.stringify(n.issues));
    machines.push(await svc.store.machines.create({ ...n.machine, state: 'installed' }));
  }
  return {
    dir,
    rack,
    kube,
    svc,
    api,
    machines,
    bundle,
    async call(method, path, body) {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async close() {
      await svc.stop();
      await rack.stop();
      await kube.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls the cluster through the API until it leaves `forming` (or the time runs out). */
export async function waitForCluster(lab: EnrollmentLab, id: string, timeoutMs = 60_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await lab.call('GET', `/api/v1/clusters/${id}`);
    if (r.body?.state !== 'forming' || Date.now() > until) return r.body;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** The states formation moves a machine through, from `installed`. */
export const ENROLLMENT_LADDER = ['host-ready', 'linked', 'content-synced', 'cluster-member', 'node-ready', 'enrolled'];

/** The states a machine moved to, in order, from its timeline. */
export async function lifecycleTransitions(lab: EnrollmentLab, machineId: string): Promise<string[]> {
  const events = await lab.svc.store.events.listForMachine(machineId, { limit: 5000 });
  return events.filter((e) => e.kind === 'lifecycle.transition').map((e) => String(e.detail?.to));
}
