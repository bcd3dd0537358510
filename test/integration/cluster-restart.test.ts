// rackboot (a child process) is killed with SIGKILL at random points of cluster formation and
// started again on the same data directory; the cluster still ends enrolled, and the steps that
// must not repeat did not: each follower's link apply and the leader's cluster create are counted
// by the stand-ins and must each be exactly one.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REQUIRED_IPXE_BINARIES } from '../../server/boot/ipxe-binaries.js';
import { normalizeMachineInput } from '../../server/inventory/normalize.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import { KubeStandin } from '../support/kube-standin.js';
import { startStandinRack, type StandinRack } from '../support/local-api-standin/index.js';
import { Prng } from '../support/prng.js';
import { killRackbootChild as kill, startRackbootChild as startChild, type RackbootChild as Child } from '../support/rackboot-child.js';

const SEED = Number(process.env.RB_RESTART_SEED ?? Date.now() % 100_000);

describe('formation survives SIGKILL', () => {
  let dir: string;
  let rack: StandinRack;
  let kube: KubeStandin;
  let child: Child | undefined;
  let token = '';
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${child!.api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-restart-'));
    kube = new KubeStandin();
    await kube.start();
    rack = await startStandinRack(3, {
      base: 81,
      kubeconfig: (name) => kube.kubeconfig(name),
      onClusterRunning: (nodes) => nodes.forEach((n) => kube.setNode(n.hostName, n.address, true)),
      host: { timings: { linkMs: 3000, syncMs: 3000, runningMs: 5000, healthyMs: 2000 } },
    });
  }, 60_000);
  afterAll(async () => {
    if (child !== undefined) await kill(child);
    await rack?.stop();
    await kube?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(`ends enrolled with no link apply or cluster create repeated (seed ${SEED})`, async () => {
    const prng = new Prng(SEED);
    const dataDir = join(dir, 'data');
    const ipxeDir = join(dir, 'ipxe');
    mkdirSync(ipxeDir, { recursive: true });
    for (const name of REQUIRED_IPXE_BINARIES) writeFileSync(join(ipxeDir, name), randomBytes(512));
    writeFileSync(join(dir, 'localapi.pw'), 'kairos-pw\n', { mode: 0o600 });
    const bundle = join(dir, 'content.tar.zst');
    writeFileSync(bundle, randomBytes(8 * 1024 * 1024));
    const config = join(dir, 'rackboot.yaml');
    writeFileSync(
      config,
      stringify({
        advertiseAddress: '127.0.0.1',
        dataDir,
        http: { listen: '127.0.0.1', port: 0 },
        tftp: { enabled: false },
        dhcp: { mode: 'off' },
        boot: { ipxeDir },
        log: { level: 'info' },
        enrollment: { localApiPort: rack.port, passwordFile: join(dir, 'localapi.pw'), pollMs: 100 },
      }),
    );
    // The machines the install left behind, written straight into the store.
    const store = openSqliteStore(join(dataDir, 'rackboot.db'));
    const names: string[] = [];
    for (const h of rack.hosts) {
      const n = normalizeMachineInput({ name: `rk-${h.opts.hostName}`, macs: [`52:54:00:bb:00:${h.address.split('.')[3]!}`], network: { ip: h.address, prefix: 8, hostname: h.opts.hostName } });
      if (!n.ok) throw new Error(JSON.stringify(n.issues));
      names.push((await store.machines.create({ ...n.machine, state: 'installed' })).name);
    }
    await store.close();

    child = await startChild(config, dir);
    token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const created = await call('POST', '/api/v1/clusters', { name: 'mgmt', controlPlane: names, vip: '192.0.2.110', contentBundle: bundle });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    // Kill points: a random moment (0 to 1.5 s) after each start, while the cluster is forming,
    // up to eight times; the stand-ins' clocks keep running while rackboot is down.
    const killedAt: string[] = [];
    for (let k = 0; k < 8; k++) {
      await new Promise((r) => setTimeout(r, prng.int(1500)));
      const now = (await call('GET', `/api/v1/clusters/${id}`)).body;
      if (now.state !== 'forming') break;
      killedAt.push(now.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`).join(',') || 'before any step');
      await kill(child);
      child = await startChild(config, dir);
    }
    let final: any;
    const until = Date.now() + 120_000;
    for (;;) {
      final = (await call('GET', `/api/v1/clusters/${id}`)).body;
      if (final.state !== 'forming' || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(killedAt.length, `kill points: ${killedAt.join(' | ')}`).toBeGreaterThanOrEqual(2);
    console.log(`seed ${SEED}: killed ${killedAt.length} times: ${killedAt.join(' | ')}`);
    expect(final.state, `${final.stateReason}\nkill points: ${killedAt.join(' | ')}\n${child.out().slice(-3000)}`).toBe('enrolled');
    expect(final.members.map((m: { state: string }) => m.state)).toEqual(['enrolled', 'enrolled', 'enrolled']);
    const [leader, f1, f2] = rack.hosts;
    expect(f1!.count('v1EdgeHostLink')).toBe(1);
    expect(f2!.count('v1EdgeHostLink')).toBe(1);
    expect(leader!.count('v1CreateCluster')).toBe(1);
  }, 600_000);
});
