// Cluster formation end to end over real sockets: rackboot's API → formation → Local Management
// API stand-ins (HTTPS on 127.0.0.x) → Kubernetes API stand-in (list + watch), from `installed`
// to `enrolled`.

import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiToken } from '../../server/access/api-tokens.js';
import { clusterKubeconfig } from '../../server/cli/clusters-command.js';
import { unseal } from '../../server/enrollment/kubeconfig-seal.js';
import { ENROLLMENT_LADDER as LADDER, lifecycleTransitions as transitions, startEnrollmentLab, waitForCluster, type EnrollmentLab } from '../support/enrollment-harness.js';

describe('3-node cluster', () => {
  let lab: EnrollmentLab;
  let cluster: any;
  beforeAll(async () => {
    lab = await startEnrollmentLab({ hosts: 3, base: 61 });
    const [leader, f1] = [lab.rack.hosts[0]!, lab.rack.hosts[1]!];
    // The first follower's link apply arrives after the token's 2 minutes are up.
    f1.beforeNext('v1EdgeHostLink', () => lab.rack.clock.advance(121_000));
    // The first upload loses its connection after 512 KiB.
    leader.failNext('V1ContentUpload', { status: 0, dropAfterBytes: 512 * 1024 });
    const created = await lab.call('POST', '/api/v1/clusters', {
      name: 'mgmt',
      controlPlane: lab.machines.map((m) => m.name),
      vip: '192.0.2.100',
      ntpServers: ['192.0.2.1'],
      sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAtest ops@example'],
      profileVariables: [{ name: 'domain', value: 'example.test' }],
      contentBundle: lab.bundle,
    });
    expect(created.status).toBe(201);
    cluster = await waitForCluster(lab, created.body.id);
  }, 120_000);
  afterAll(async () => lab?.close());

  it('ends enrolled, every machine through the whole ladder in order', async () => {
    expect(cluster.state).toBe('enrolled');
    for (const m of lab.machines) {
      expect((await lab.svc.store.machines.get(m.id))!.state).toBe('enrolled');
      expect(await transitions(lab, m.id)).toEqual(LADDER);
    }
  });

  it('linked each follower once, after regenerating the expired token', async () => {
    const [leader, f1, f2] = lab.rack.hosts;
    expect(f1!.count('v1EdgeHostLink')).toBe(2);
    expect(f2!.count('v1EdgeHostLink')).toBe(1);
    expect(leader!.count('v1EdgeHostLink')).toBe(0);
    expect(leader!.count('v1EdgeHostLinkGenerateToken')).toBeGreaterThanOrEqual(3);
    const kinds = (await lab.svc.store.clusters.events(cluster.id, { limit: 5000 })).map((e) => e.kind);
    expect(kinds).toContain('link.token-expired');
  });

  it('uploaded the bundle twice (the first attempt dropped) and created the cluster once', async () => {
    const leader = lab.rack.hosts[0]!;
    expect(leader.count('V1ContentUpload')).toBe(2);
    expect(leader.count('v1CreateCluster')).toBe(1);
    const kinds = (await lab.svc.store.clusters.events(cluster.id, { limit: 5000 })).map((e) => e.kind);
    expect(kinds).toContain('content.upload-retry');
    expect(kinds.indexOf('content.uploaded')).toBeLessThan(kinds.indexOf('content.synced'));
    expect(kinds.indexOf('content.synced')).toBeLessThan(kinds.indexOf('cluster.create-accepted'));
    expect(kinds.at(-1)).toBe('cluster.enrolled');
    // Every step record is closed, and cluster-wide steps have one record each.
    const steps = await lab.svc.store.clusters.steps(cluster.id);
    expect(steps.filter((s) => s.status !== 'done')).toEqual([]);
    expect(steps.filter((s) => s.step === 'content-upload' || s.step === 'cluster-create').map((s) => s.machineId)).toEqual(['', '']);
    const appliance = (await lab.svc.store.clusters.events(cluster.id, { limit: 5000 })).filter((e) => e.kind === 'appliance.event').map((e) => e.detail?.type);
    expect(appliance).toEqual(['ClusterCreateAccepted', 'ControlPlaneInitialized', 'NodesJoined', 'ClusterRunning', 'ClusterHealthy']);
  });

  it('pinned each host certificate and stored the kubeconfig sealed, never in the API', async () => {
    for (const [i, m] of lab.machines.entries()) {
      expect(await lab.svc.store.clusters.pin(m.id)).toBe(new X509Certificate(lab.rack.hosts[i]!.certPem).fingerprint256);
    }
    const sealed = (await lab.svc.store.clusters.sealedKubeconfig(cluster.id))!;
    expect(sealed).toMatch(/^aes256gcm:v1:/);
    expect(sealed).not.toContain('kind: Config');
    const key = readFileSync(join(lab.dir, 'data', 'kubeconfig.key'));
    expect(unseal(key, sealed)).toBe(lab.kube.kubeconfig('mgmt'));
    const shown = JSON.stringify((await lab.call('GET', `/api/v1/clusters/${cluster.id}`)).body);
    expect(shown).not.toContain('certificate-authority-data');
    expect(shown).toContain('"hasKubeconfig":true');
  });

  it('hands the kubeconfig to an admin (API and CLI), never to a viewer, and audits each read', async () => {
    const admin = readFileSync(join(lab.dir, 'data', 'admin.token'), 'utf8').trim();
    const url = `${lab.api}/api/v1/clusters/${cluster.id}/kubeconfig`;
    const r = await fetch(url, { headers: { authorization: `Bearer ${admin}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(await r.text()).toBe(lab.kube.kubeconfig('mgmt'));
    const viewer = await issueApiToken(lab.svc.store.apiTokens, 'kube-viewer', 'viewer');
    const refused = await fetch(url, { headers: { authorization: `Bearer ${viewer.secret}` } });
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain('kind: Config');

    const file = join(lab.dir, 'mgmt.kubeconfig');
    expect(await clusterKubeconfig({ base: lab.api, headers: { authorization: `Bearer ${admin}` } }, 'mgmt', file, process.stdout)).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(lab.kube.kubeconfig('mgmt'));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const reads = (await lab.svc.store.audit.list({ limit: 100, offset: 0 })).items.filter((e) => e.action === 'GET /api/v1/clusters/:id/kubeconfig');
    expect(reads.map((e) => [e.actor, e.outcome, e.target])).toEqual([
      ['bootstrap-admin', 'ok', cluster.id],
      ['kube-viewer', 'refused', cluster.id],
      ['bootstrap-admin', 'ok', cluster.id],
    ].reverse());
  });

  it('reports a node that stops being Ready and keeps the machine enrolled', async () => {
    const m = lab.machines[2]!;
    lab.kube.setNode('edge-3', '127.0.0.63', false);
    const until = Date.now() + 20_000;
    let seen = false;
    while (!seen && Date.now() < until) {
      const ev = await lab.svc.store.events.listForMachine(m.id, { limit: 5000 });
      seen = ev.some((e) => e.kind === 'node.not-ready');
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toBe(true);
    expect((await lab.svc.store.machines.get(m.id))!.state).toBe('enrolled');
    expect(await transitions(lab, m.id)).toEqual(LADDER);
  });
});

describe('1-node cluster and definitions', () => {
  let lab: EnrollmentLab;
  beforeAll(async () => {
    // The watchdog stays out of the way: this test checks formation's own deadline message.
    lab = await startEnrollmentLab({ hosts: 2, base: 71, lifecycle: { hostReadySeconds: 10, watchdogSeconds: 600 } });
  }, 60_000);
  afterAll(async () => lab?.close());

  it('refuses definitions that cannot form a cluster, with the reasons', async () => {
    const [a, b] = lab.machines;
    const two = await lab.call('POST', '/api/v1/clusters', { name: 'x', controlPlane: [a!.name, b!.name], vip: '192.0.2.100', contentBundle: lab.bundle });
    expect(two.status).toBe(422);
    expect(JSON.stringify(two.body.issues)).toContain('1 or 3');
    const unknown = await lab.call('POST', '/api/v1/clusters', { name: 'x', controlPlane: ['nope'], vip: '192.0.2.100', contentBundle: join(lab.dir, 'missing.tar') });
    expect(unknown.status).toBe(422);
    expect(unknown.body.issues.map((i: { field: string }) => i.field).sort()).toEqual(['contentBundle', 'controlPlane.0']);
    const bad = await lab.call('POST', '/api/v1/clusters', { name: 'Bad Name', controlPlane: [a!.name], vip: 'x', contentBundle: lab.bundle });
    expect(bad.status).toBe(422);
    expect((await lab.call('GET', '/api/v1/clusters')).body.total).toBe(0);
  });

  it('forms a single-node cluster without linking', async () => {
    const [a] = lab.machines;
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'solo', controlPlane: [a!.name], vip: '192.0.2.101', contentBundle: lab.bundle });
    expect(created.status).toBe(201);
    const c = await waitForCluster(lab, created.body.id);
    expect(c.state).toBe('enrolled');
    expect(c.members).toEqual([{ machineId: a!.id, role: 'control-plane', name: a!.name, state: 'enrolled' }]);
    expect(await transitions(lab, a!.id)).toEqual(LADDER);
    expect(lab.rack.hosts[0]!.count('v1EdgeHostLinkGenerateToken')).toBe(0);
    expect(lab.rack.hosts[0]!.count('v1CreateCluster')).toBe(1);
    // The other machine was not part of it.
    expect((await lab.svc.store.machines.get(lab.machines[1]!.id))!.state).toBe('installed');
    const again = await lab.call('POST', '/api/v1/clusters', { name: 'solo2', controlPlane: [a!.name], vip: '192.0.2.101', contentBundle: lab.bundle });
    expect(again.status).toBe(409);
  });

  it('fails the cluster and its machine, with the reason, when a host never answers', async () => {
    const [, b] = lab.machines;
    await lab.rack.hosts[1]!.stop();
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'silent', controlPlane: [b!.name], vip: '192.0.2.102', contentBundle: lab.bundle });
    expect(created.status).toBe(201);
    const c = await waitForCluster(lab, created.body.id, 60_000);
    expect(c.state).toBe('failed');
    expect(c.stateReason).toMatch(/did not answer within 10 s/);
    const m = (await lab.svc.store.machines.get(b!.id))!;
    expect(m.state).toBe('failed');
    expect(m.stateReason).toContain('silent');
  }, 60_000);
});
