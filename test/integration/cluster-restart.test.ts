// rackboot (a child process) is killed with SIGKILL at random points of cluster formation and
// started again on the same data directory; the cluster still ends enrolled, and the steps that
// must not repeat did not: each follower's link apply and the leader's cluster create are counted
// by the stand-ins and must each be exactly one.

import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeStandin } from '../support/kube-standin.js';
import { startStandinRack, type StandinRack } from '../support/local-api-standin/index.js';
import { Prng } from '../support/prng.js';
import { childApi, writeRestartLab } from '../support/restart-lab.js';
import { killRackbootChild as kill, startRackbootChild as startChild, type RackbootChild as Child } from '../support/rackboot-child.js';

const SEED = Number(process.env.RB_RESTART_SEED ?? Date.now() % 100_000);

describe('formation survives SIGKILL', () => {
  let dir: string;
  let rack: StandinRack;
  let kube: KubeStandin;
  let child: Child | undefined;
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
    const { config, dataDir, bundle, names } = await writeRestartLab(dir, rack, { namePrefix: 'rk-', macPrefix: '52:54:00:bb:00', bundleBytes: 8 * 1024 * 1024 });
    child = await startChild(config, dir);
    const call = childApi(() => child!.api, dataDir);
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
