// An operator marks a member failed through the API while its cluster forms: the change goes through
// the lifecycle like a timeout does, so the reason and last events are kept, the cluster fails with
// it, the other members fail too, and formation stops instead of carrying on without the machine.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnrollmentLab, type EnrollmentLab } from '../support/enrollment-harness.js';

describe('a member marked failed through the API during formation', () => {
  let lab: EnrollmentLab;

  beforeAll(async () => {
    lab = await startEnrollmentLab({ hosts: 2, base: 94 });
    // Silent hosts: formation waits at host-ready until the operator steps in.
    for (const h of lab.rack.hosts) await h.stop();
  }, 60_000);
  afterAll(async () => lab?.close());

  it('fails the machine with its last events, fails the cluster and its other member, and ends the formation', async () => {
    const [a, b] = lab.machines;
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'pulled', controlPlane: [a!.name], workers: [b!.name], vip: '192.0.2.94', contentBundle: lab.bundle });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (let i = 0; i < 300 && (await lab.svc.store.clusters.steps(id)).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await lab.svc.store.clusters.steps(id)).map((s) => s.step)).toEqual(['host-ready', 'host-ready']);

    const r = await lab.call('PATCH', `/api/v1/machines/${b!.id}`, { state: 'failed', rack: 'r9' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ state: 'failed', stateReason: 'marked failed through the API', rack: 'r9' });
    const failedEv = (await lab.svc.store.events.listForMachine(b!.id, { limit: 5000 })).find((e) => e.kind === 'lifecycle.failed')!;
    expect((failedEv.detail?.lastEvents as { kind: string }[]).map((e) => e.kind)).toContain('step.host-ready');

    await lab.svc.formation!.settled(id);
    const cluster = (await lab.svc.store.clusters.get(id))!;
    expect(cluster.state).toBe('failed');
    expect(cluster.stateReason).toBe(`${b!.name}: marked failed through the API`);
    expect((await lab.svc.store.machines.get(a!.id))!.state).toBe('failed');
    // Once failed, a second PATCH to failed changes nothing and is not an error.
    const again = await lab.call('PATCH', `/api/v1/machines/${b!.id}`, { state: 'failed' });
    expect(again.status).toBe(200);
    expect((await lab.svc.store.events.listForMachine(b!.id, { limit: 5000 })).filter((e) => e.kind === 'lifecycle.failed')).toHaveLength(1);
  }, 60_000);
});
