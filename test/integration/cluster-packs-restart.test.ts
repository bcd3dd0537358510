// The pack push step survives SIGKILL: rackboot (a child process) is killed in the middle of the
// push, after the first image is in the registry and while a large one is going up (held part-way
// by a relay in front of the registry, so the kill cannot come too late), and started again on the
// same data directory. The step runs again: the first image's blobs are found by their
// digests and skipped, the certificate recorded on first use is insisted on, the cluster ends
// enrolled, and every manifest and blob reads back with its digest.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import { haveDockerRegistry, makeOciArchive, readBackDigests, startDockerRegistry, type OciArchive, type RunningRegistry } from '../support/docker-registry.js';
import { KubeStandin } from '../support/kube-standin.js';
import { startGatedProxy, type GatedProxy } from '../support/gated-tcp-proxy.js';
import { startStandinRack, type StandinRack } from '../support/local-api-standin/index.js';
import { childApi, writeRestartLab } from '../support/restart-lab.js';
import { killRackbootChild, startRackbootChild, type RackbootChild } from '../support/rackboot-child.js';

if (!haveDockerRegistry && process.env.CI) throw new Error('docker-registry or openssl is missing: run scripts/install-deps.sh test');

const VIP = '127.0.0.202';

describe.skipIf(!haveDockerRegistry)('pack push survives SIGKILL', () => {
  let dir: string;
  let rack: StandinRack;
  let kube: KubeStandin;
  let zot: RunningRegistry;
  let relay: GatedProxy;
  let archive: OciArchive;
  let child: RackbootChild | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-packs-restart-'));
    kube = new KubeStandin();
    await kube.start();
    rack = await startStandinRack(1, {
      base: 21,
      kubeconfig: (name) => kube.kubeconfig(name),
      onClusterRunning: (nodes) => nodes.forEach((n) => kube.setNode(n.hostName, n.address, true)),
    });
    // A small image first, then one with a 128 MiB layer: the kill lands while that one uploads.
    archive = makeOciArchive(join(dir, 'pack'), ['small-1', 'big-1'], { 'big-1': 128 * 1024 * 1024 });
    // The registry behind a relay on the Zot address: client bytes stop passing 32 MiB into the push,
    // well inside the 128 MiB layer (the small image is a few KiB).
    zot = await startDockerRegistry(join(dir, 'zot'), { host: VIP, port: 30004, tls: true });
    relay = await startGatedProxy({ host: VIP, port: 30003 }, { host: VIP, port: 30004 }, 32 * 1024 * 1024);
  }, 120_000);
  afterAll(async () => {
    if (child !== undefined) await killRackbootChild(child);
    await relay?.close();
    await zot?.stop();
    await rack?.stop();
    await kube?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('pushes again after the restart, skipping the blobs already there, and ends enrolled', async () => {
    const { config, dataDir, bundle, names } = await writeRestartLab(dir, rack, { namePrefix: 'pk-', macPrefix: '52:54:00:cc:00', bundleBytes: 1024 * 1024 });
    child = await startRackbootChild(config, dir);
    const call = childApi(() => child!.api, dataDir);
    const created = await call('POST', '/api/v1/clusters', { name: 'packs', controlPlane: names, vip: VIP, contentBundle: bundle, packs: { archive: archive.path } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;

    // Kill once the first image is reported pushed and the big layer is held in the relay.
    let after = 0;
    for (let found = false; !(found && relay.holding()); ) {
      const ev = (await call('GET', `/api/v1/clusters/${id}/events?after=${after}`)).body;
      after = ev.next;
      found ||= ev.items.some((e: { kind: string }) => e.kind === 'packs.pushed');
      if (ev.items.some((e: { kind: string }) => e.kind === 'cluster.failed')) throw new Error(`cluster failed:\n${child.out().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await killRackbootChild(child);
    relay.release();
    const atKill = openSqliteStore(join(dataDir, 'rackboot.db'));
    const stepAtKill = await atKill.clusters.step(id, 'packs-push');
    await atKill.close();
    expect(stepAtKill?.status).toBe('started');

    child = await startRackbootChild(config, dir);
    let final: any;
    const until = Date.now() + 120_000;
    for (;;) {
      final = (await call('GET', `/api/v1/clusters/${id}`)).body;
      if (final.state !== 'forming' || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(final.state, `${final.stateReason}\n${child.out().slice(-3000)}`).toBe('enrolled');
    expect(await readBackDigests(zot, 'packs', archive)).toEqual([]);

    const events = (await call('GET', `/api/v1/clusters/${id}/events?limit=5000`)).body.items as { kind: string; detail?: any }[];
    const small = events.filter((e) => e.kind === 'packs.pushed' && e.detail?.tag === 'small-1').map((e) => e.detail.blobs);
    // Before the kill: uploaded. After the restart: found by digest and skipped.
    expect(small).toEqual([
      { uploaded: 3, present: 0, mounted: 0 },
      { uploaded: 0, present: 3, mounted: 0 },
    ]);
    const big = events.filter((e) => e.kind === 'packs.pushed' && e.detail?.tag === 'big-1').map((e) => e.detail);
    expect(big).toHaveLength(1);
    expect(big[0].digest).toBe(archive.manifests.get('big-1'));
    // The layer shared with small-1 is skipped, and so is whatever of big-1 made it before the kill.
    expect(big[0].blobs.present).toBeGreaterThanOrEqual(1);
    expect(big[0].blobs.present + big[0].blobs.uploaded).toBe(3);
    // The certificate was trusted on first use once, then insisted on.
    expect(events.filter((e) => e.kind === 'packs.registry-pinned')).toHaveLength(1);
  }, 300_000);
});
