// Stage timeouts of enrollment are enforced by the lifecycle watchdog, not only between formation
// calls: a host that accepts TCP and never answers, and an upload the leader stops reading, both
// leave formation stuck inside one call. The watchdog (driven here through checkTimeouts(now) with
// a clock moved past the limit, never by waiting it out) fails the machine with its last events,
// the cluster with the reason, and aborts the formation, whose connections close.

import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnrollmentLab, type EnrollmentLab } from '../support/enrollment-harness.js';

const LIMITS = { hostReadySeconds: 10, linkSeconds: 10, contentUploadSeconds: 20, contentSyncSeconds: 10, uploadStallSeconds: 3600, watchdogSeconds: 600 };

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('stage watchdog during cluster formation', () => {
  let lab: EnrollmentLab;
  let silent: Server;
  const accepted: { socket: Socket; closed: boolean }[] = [];

  beforeAll(async () => {
    lab = await startEnrollmentLab({ hosts: 2, base: 91, lifecycle: LIMITS });
    // Host 0 is replaced by a listener that accepts connections and never says a byte.
    const h0 = lab.rack.hosts[0]!;
    await h0.stop();
    silent = createServer((socket) => {
      const a = { socket, closed: false };
      accepted.push(a);
      socket.on('error', () => {});
      socket.once('close', () => (a.closed = true));
      socket.resume(); // reads the TLS hello, answers nothing
    });
    await new Promise<void>((r) => silent.listen(lab.rack.port, h0.address, () => r()));
  }, 60_000);
  afterAll(async () => {
    for (const a of accepted) a.socket.destroy();
    await new Promise((r) => silent?.close(r));
    await lab?.close();
  });

  it('leaves installed machines outside a forming cluster alone', async () => {
    expect(await lab.svc.lifecycle.checkTimeouts(Date.now() + 365 * 24 * 3600_000)).toBe(0);
    for (const m of lab.machines) expect((await lab.svc.store.machines.get(m.id))!.state).toBe('installed');
  });

  it('fails a host that accepts TCP and never answers, fails its cluster and aborts the formation', async () => {
    const m = lab.machines[0]!;
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'mute', controlPlane: [m.name], vip: '192.0.2.110', contentBundle: lab.bundle });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await until('a connection to the silent host', () => accepted.length > 0);
    const formingSince = Date.parse(created.body.createdAt);
    // Within the limit nothing happens; past it, the watchdog acts (the call in flight would not).
    expect(await lab.svc.lifecycle.checkTimeouts(formingSince + (LIMITS.hostReadySeconds - 1) * 1000)).toBe(0);
    expect((await lab.svc.store.clusters.get(id))!.state).toBe('forming');
    expect(await lab.svc.lifecycle.checkTimeouts(formingSince + (LIMITS.hostReadySeconds + 1) * 1000)).toBe(1);

    const machine = (await lab.svc.store.machines.get(m.id))!;
    expect(machine.state).toBe('failed');
    expect(machine.stateReason).toMatch(/^timed out in installed after \d+ s \(limit 10 s\) waiting for the Local Management API to answer$/);
    const failedEv = (await lab.svc.store.events.listForMachine(m.id, { limit: 5000 })).find((e) => e.kind === 'lifecycle.failed')!;
    const last = failedEv.detail?.lastEvents as { kind: string }[];
    expect(last.map((e) => e.kind)).toContain('step.host-ready');

    const cluster = (await lab.svc.store.clusters.get(id))!;
    expect(cluster.state).toBe('failed');
    expect(cluster.stateReason).toBe(`${m.name}: ${machine.stateReason}`);
    const kinds = (await lab.svc.store.clusters.events(id, { limit: 5000 })).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'cluster.failed')).toHaveLength(1);

    // The formation task ends and gives its half-open connections back.
    await lab.svc.formation!.settled(id);
    await until('the silent connections to be closed by rackboot', () => accepted.every((a) => a.closed));
  }, 60_000);

  it('fails a leader whose upload hangs, through the linked-state limit (upload + sync)', async () => {
    const m = lab.machines[1]!;
    const h1 = lab.rack.hosts[1]!;
    h1.failNext('V1ContentUpload', { status: 0, hang: true });
    const created = await lab.call('POST', '/api/v1/clusters', { name: 'stalled', controlPlane: [m.name], vip: '192.0.2.111', contentBundle: lab.bundle });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await until('the upload to hang', () => h1.hungTotal() === 1);
    const linked = (await lab.svc.store.machines.get(m.id))!;
    expect(linked.state).toBe('linked');
    const entered = Date.parse(linked.stateEnteredAt);
    const limit = LIMITS.contentUploadSeconds + LIMITS.contentSyncSeconds;
    expect(await lab.svc.lifecycle.checkTimeouts(entered + (limit - 1) * 1000)).toBe(0);
    expect(await lab.svc.lifecycle.checkTimeouts(entered + (limit + 1) * 1000)).toBe(1);

    const machine = (await lab.svc.store.machines.get(m.id))!;
    expect(machine.state).toBe('failed');
    expect(machine.stateReason).toMatch(/^timed out in linked after \d+ s \(limit 30 s\) waiting for the content upload and sync$/);
    const cluster = (await lab.svc.store.clusters.get(id))!;
    expect(cluster.state).toBe('failed');
    expect(cluster.stateReason).toContain('timed out in linked');
    await lab.svc.formation!.settled(id);
    await until('the hung upload connection to be closed by rackboot', () => h1.hungOpen() === 0);
    // One attempt: the abort is not taken for a failed attempt to retry.
    expect(h1.count('V1ContentUpload')).toBe(1);
    const steps = await lab.svc.store.clusters.steps(id);
    expect(steps.find((s) => s.step === 'content-upload')?.status).toBe('started');
  }, 60_000);
});
