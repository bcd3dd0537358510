// A failed cluster, once its cause is mended, is formed again (POST /api/v1/clusters/{id}/retry):
// members that failed after their install go back to `installed` and formation resumes from its
// persisted steps, so nothing that must not be repeated (link apply, content upload, cluster create)
// is sent again. A failed cluster can also be deleted, which frees its installed members.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENROLLMENT_LADDER as LADDER, lifecycleTransitions as transitions, startEnrollmentLab, waitForCluster, type EnrollmentLab } from '../support/enrollment-harness.js';

describe('retry of a 3-node cluster that went into Error after its create', () => {
  let lab: EnrollmentLab;
  let id: string;
  let failed: any;
  beforeAll(async () => {
    lab = await startEnrollmentLab({ hosts: 3, base: 161 });
    const leader = lab.rack.hosts[0]!;
    // The first look at the new cluster finds it in Error.
    leader.beforeNext('v1GetLifecycleEvents', () => leader.breakCluster('etcd: quorum lost'));
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'again', controlPlane: lab.machines.map((m) => m.name), vip: '192.0.2.161', contentBundle: lab.bundle });
    expect(created.status).toBe(201);
    id = created.body.id;
    failed = await waitForCluster(lab, id);
  }, 120_000);
  afterAll(async () => lab?.close());

  it('fails with the appliance reason; each member records the state it failed in', async () => {
    expect(failed.state).toBe('failed');
    expect(failed.stateReason).toContain('etcd: quorum lost');
    for (const m of lab.machines) {
      const shown = (await lab.call('GET', `/api/v1/machines/${m.id}`)).body;
      expect(shown).toMatchObject({ state: 'failed', failedFrom: 'cluster-member' });
    }
  });

  it('forms again once mended and ends enrolled, without linking, uploading or creating twice', async () => {
    const [leader, f1, f2] = lab.rack.hosts;
    leader!.mendCluster();
    const r = await lab.call('POST', `/api/v1/clusters/${id}/retry`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.state).toBe('forming');
    // The retried formation runs: a second retry is refused until it has ended.
    const twice = await lab.call('POST', `/api/v1/clusters/${id}/retry`);
    expect(twice.status).toBe(409);
    expect(twice.body.detail).toContain('is forming');
    const c = await waitForCluster(lab, id);
    expect(c.state, c.stateReason).toBe('enrolled');
    expect(leader!.count('v1CreateCluster')).toBe(1);
    expect(leader!.count('V1ContentUpload')).toBe(1);
    expect(f1!.count('v1EdgeHostLink')).toBe(1);
    expect(f2!.count('v1EdgeHostLink')).toBe(1);
    for (const m of lab.machines) {
      const now = (await lab.svc.store.machines.get(m.id))!;
      expect(now).toMatchObject({ state: 'enrolled', failedFrom: null });
      // The first run up to cluster-member, the failure, back to installed, and the whole ladder again.
      expect(await transitions(lab, m.id)).toEqual([...LADDER.slice(0, 4), ...LADDER]);
      const restored = (await lab.svc.store.events.listForMachine(m.id, { limit: 5000 })).find((e) => e.kind === 'lifecycle.restored');
      expect(restored?.detail).toMatchObject({ from: 'failed', to: 'installed', failedFrom: 'cluster-member' });
    }
    const kinds = (await lab.svc.store.clusters.events(id, { limit: 5000 })).map((e) => e.kind);
    expect(kinds.indexOf('cluster.failed')).toBeLessThan(kinds.indexOf('cluster.retry'));
    expect(kinds.at(-1)).toBe('cluster.enrolled');
  });

  it('refuses to retry an enrolled cluster; deleting it stops watching its nodes and leaves the members enrolled', async () => {
    const retry = await lab.call('POST', `/api/v1/clusters/${id}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.detail).toContain('only a failed cluster can be retried');
    const unknown = await lab.call('POST', '/api/v1/clusters/00000000-0000-0000-0000-000000000000/retry');
    expect(unknown.status).toBe(404);

    // The watch of an enrolled cluster's nodes opens after its first list: wait until it is open.
    for (let i = 0; i < 200 && lab.kube.openWatches() === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(lab.kube.openWatches()).toBeGreaterThan(0);
    expect((await lab.call('DELETE', `/api/v1/clusters/${id}`)).status).toBe(204);
    expect((await lab.call('GET', `/api/v1/clusters/${id}`)).status).toBe(404);
    for (let i = 0; i < 200 && lab.kube.openWatches() > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(lab.kube.openWatches()).toBe(0);
    for (const m of lab.machines) expect((await lab.svc.store.machines.get(m.id))!.state).toBe('enrolled');
    const deleted = (await lab.svc.store.events.listForMachine(lab.machines[0]!.id, { limit: 5000 })).find((e) => e.kind === 'cluster.deleted');
    expect(deleted?.message).toContain('(enrolled) deleted by');
  });
});

describe('a failed cluster with a member reinstalling: no retry; delete frees the installed member', () => {
  let lab: EnrollmentLab;
  beforeAll(async () => {
    lab = await startEnrollmentLab({ hosts: 2, base: 171 });
    for (const h of lab.rack.hosts) await h.stop();
  }, 60_000);
  afterAll(async () => lab?.close());

  it('refuses the retry naming the member, deletes the cluster, and the other member forms a new one', async () => {
    const [a, b] = lab.machines;
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'pair', controlPlane: [a!.name], workers: [b!.name], vip: '192.0.2.171', contentBundle: lab.bundle });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (let i = 0; i < 300 && (await lab.svc.store.clusters.steps(id)).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const whileForming = await lab.call('DELETE', `/api/v1/clusters/${id}`);
    expect(whileForming.status).toBe(409);
    expect(whileForming.body.detail).toContain('is forming');
    // The operator fails b (its cluster fails with it), starts its install again, and it fails there.
    expect((await lab.call('PATCH', `/api/v1/machines/${b!.id}`, { state: 'failed' })).status).toBe(200);
    await lab.svc.formation!.settled(id);
    expect((await lab.call('POST', `/api/v1/machines/${b!.id}/provision`)).status).toBe(200);
    expect((await lab.call('PATCH', `/api/v1/machines/${b!.id}`, { state: 'failed' })).body).toMatchObject({ state: 'failed', failedFrom: 'provisioning' });

    const retry = await lab.call('POST', `/api/v1/clusters/${id}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.detail).toContain(`${b!.name} failed in provisioning, before its install finished`);
    // All or nothing: a stays failed, the cluster too.
    expect((await lab.svc.store.machines.get(a!.id))!).toMatchObject({ state: 'failed', failedFrom: 'installed' });
    expect((await lab.svc.store.clusters.get(id))!.state).toBe('failed');

    expect((await lab.call('GET', '/api/v1/clusters?state=failed')).body).toMatchObject({ total: 1, limit: 100, offset: 0 });
    expect((await lab.call('DELETE', `/api/v1/clusters/${id}`)).status).toBe(204);
    expect((await lab.call('GET', `/api/v1/clusters/${id}`)).status).toBe(404);
    expect((await lab.call('DELETE', `/api/v1/clusters/${id}`)).status).toBe(404);
    expect((await lab.call('GET', '/api/v1/clusters')).body.total).toBe(0);
    expect((await lab.svc.store.machines.get(a!.id))!).toMatchObject({ state: 'installed', failedFrom: null });
    expect((await lab.svc.store.machines.get(b!.id))!.state).toBe('failed');
    const aKinds = (await lab.svc.store.events.listForMachine(a!.id, { limit: 5000 })).map((e) => e.kind);
    expect(aKinds.indexOf('cluster.deleted')).toBeLessThan(aKinds.indexOf('lifecycle.restored'));

    await lab.rack.hosts[0]!.start();
    const solo = await lab.call('POST', '/api/v1/clusters', { name: 'solo', controlPlane: [a!.name], vip: '192.0.2.172', contentBundle: lab.bundle });
    expect(solo.status, JSON.stringify(solo.body)).toBe(201);
    expect((await waitForCluster(lab, solo.body.id)).state).toBe('enrolled');
  }, 60_000);
});
