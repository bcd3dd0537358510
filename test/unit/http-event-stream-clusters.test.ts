import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cluster, ClusterEvent } from '../../server/enrollment/cluster.js';
import type { Machine } from '../../server/inventory/machine.js';
import type { StoredEvent } from '../../server/store/types.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';
import { openSse, type SseConnection, type SseMessage } from '../support/sse-client.js';

// Cluster events on the event stream over a real socket: `event: cluster` beside the unchanged
// `event: timeline`, state changes included, resume by Last-Event-ID across both sequences with
// nothing lost or repeated, and the `?cluster=` filter.

let f: HttpFixture;
let base: string;
let m1: Machine;
let m2: Machine;
let m3: Machine;
const open: SseConnection[] = [];
const spec = { vip: '10.250.0.100', ntpServers: [], sshKeys: [], profileVariables: [], contentBundle: 'bundle' };

beforeEach(async () => {
  f = await buildHttpFixture();
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(f.app.server.address() as { port: number }).port}`;
  m1 = await f.addMachine({ name: 'm1', macs: ['52:54:00:00:02:01'] });
  m2 = await f.addMachine({ name: 'm2', macs: ['52:54:00:00:02:02'] });
  m3 = await f.addMachine({ name: 'm3', macs: ['52:54:00:00:02:03'] });
});
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await f.cleanup();
});

async function stream(query = '', headers: Record<string, string> = {}): Promise<SseConnection> {
  const c = await openSse(`${base}/api/v1/events/stream${query}`, { ...f.auth('viewer'), ...headers });
  open.push(c);
  return c;
}

const record = (m: Machine, kind: string) => f.timeline.record({ machineId: m.id, mac: null, source: 'enrollment', kind, outcome: 'ok', message: kind });
const note = (c: Cluster, kind: string) => f.clusters.appendEvent({ clusterId: c.id, kind, outcome: 'info', message: kind });
const formCluster = (name: string, members: Machine[]) => f.clusters.create({ name, spec, members: members.map((m, i) => ({ machineId: m.id, role: i === 0 ? 'control-plane' : 'worker' })) });
/** `timeline:<kind>` or `cluster:<kind>[/<state>]` for each message. */
const label = (x: SseMessage): string => {
  if (x.event === 'timeline') return `timeline:${(JSON.parse(x.data) as StoredEvent).kind}`;
  const e = JSON.parse(x.data) as ClusterEvent;
  return `cluster:${e.kind}${e.kind === 'cluster.state' ? `/${String(e.detail?.state)}` : ''}`;
};
const cursor = (x: SseMessage) => x.id!.split('-').map(Number) as [number, number];

describe('cluster events on GET /api/v1/events/stream', () => {
  it('streams cluster state changes and cluster events live as `event: cluster`, timeline events unchanged', async () => {
    const c = await stream();
    const alpha = await formCluster('alpha', [m1, m2]);
    await note(alpha, 'hosts.ready');
    await record(m1, 'enrollment.step');
    await f.clusters.transition(alpha.id, ['forming'], 'enrolled', null);
    await c.waitFor(4);
    expect(c.messages.map(label)).toEqual(['cluster:cluster.state/forming', 'cluster:hosts.ready', 'timeline:enrollment.step', 'cluster:cluster.state/enrolled']);
    const first = JSON.parse(c.messages[0]!.data) as ClusterEvent;
    expect(first).toMatchObject({ clusterId: alpha.id, outcome: 'info', detail: { cluster: 'alpha', state: 'forming' } });
    expect(first.id).toBeGreaterThan(0);
    const tl = JSON.parse(c.messages[2]!.data) as StoredEvent;
    expect(tl).toMatchObject({ machineId: m1.id, kind: 'enrollment.step' });
    expect(cursor(c.messages[2]!)[0]).toBe(tl.id);
    // Each part of the cursor only grows.
    const cursors = c.messages.map(cursor);
    for (let i = 1; i < cursors.length; i++) {
      expect(cursors[i]![0]).toBeGreaterThanOrEqual(cursors[i - 1]![0]);
      expect(cursors[i]![1]).toBeGreaterThanOrEqual(cursors[i - 1]![1]);
    }
    expect(cursors[3]![1]).toBe((JSON.parse(c.messages[3]!.data) as ClusterEvent).id);
  });

  it('resumes after Last-Event-ID across both sequences: missed events once, then live ones', async () => {
    const alpha = await formCluster('alpha', [m1, m2]);
    const first = await stream();
    await note(alpha, 'a');
    await record(m1, 'b');
    const [, last] = await first.waitFor(2);
    first.close();
    // Recorded while no one listens.
    await note(alpha, 'c');
    await record(m2, 'd');
    await note(alpha, 'e');
    const resumed = await stream('', { 'last-event-id': last!.id! });
    await resumed.waitFor(3);
    await note(alpha, 'f');
    await record(m1, 'g');
    await resumed.waitFor(5);
    // Replay gives the timeline first, then the cluster events, each in order.
    expect(resumed.messages.map(label)).toEqual(['timeline:d', 'cluster:c', 'cluster:e', 'cluster:f', 'timeline:g']);
    // Resuming from a cursor left by a cluster event works the same way.
    const fromCluster = resumed.messages[2]!;
    const again = await stream(`?after=${fromCluster.id!}`);
    await again.waitFor(2);
    expect(again.messages.map(label)).toEqual(['timeline:g', 'cluster:f']);
    // A stream opened with no cursor starts from now and its ids stand for everything before.
    const fresh = await stream();
    await note(alpha, 'h');
    const [h] = await fresh.waitFor(1);
    fresh.close();
    const after = await stream('', { 'last-event-id': h!.id! });
    await record(m2, 'i');
    await after.waitFor(1);
    expect(after.messages.map(label)).toEqual(['timeline:i']);
  });

  it('takes a plain timeline id (older clients, `after=` from the REST timeline) as a timeline cursor, cluster events live', async () => {
    const alpha = await formCluster('alpha', [m1]);
    await record(m1, 'x');
    const [x] = await f.store.events.listForMachine(m1.id);
    await record(m1, 'y');
    await note(alpha, 'old');
    const c = await stream(`?after=${x!.id}`);
    await note(alpha, 'new');
    await c.waitFor(2);
    expect(c.messages.map(label)).toEqual(['timeline:y', 'cluster:new']);
  });

  it('filters by cluster (id or name): its events and its members\' timelines, live and on resume; unknown is 404', async () => {
    const alpha = await formCluster('alpha', [m1, m2]);
    const beta = await formCluster('beta', [m3]);
    await note(alpha, 'alpha-old');
    await note(beta, 'beta-old');
    await record(m1, 'm1-old');
    await record(m3, 'm3-old');
    const byName = await stream('?cluster=alpha&after=0-0');
    const byId = await stream(`?cluster=${alpha.id}`);
    await note(beta, 'beta-new');
    await record(m3, 'm3-new');
    await record(m2, 'm2-new');
    await note(alpha, 'alpha-new');
    await byName.waitFor(5);
    await byId.waitFor(2);
    expect(byName.messages.map(label)).toEqual(['timeline:m1-old', 'cluster:cluster.state/forming', 'cluster:alpha-old', 'timeline:m2-new', 'cluster:alpha-new']);
    expect(byId.messages.map(label)).toEqual(['timeline:m2-new', 'cluster:alpha-new']);
    // Resume of a filtered stream: skipped events of other clusters are not sent later either.
    const resumed = await stream('?cluster=beta', { 'last-event-id': byName.messages[2]!.id! });
    await note(beta, 'beta-live');
    await resumed.waitFor(4);
    expect(resumed.messages.map(label)).toEqual(['timeline:m3-new', 'cluster:beta-old', 'cluster:beta-new', 'cluster:beta-live']);
    // A machine filter keeps to that machine's timeline.
    const machineOnly = await stream(`?machine=${m1.id}&after=0-0`);
    await machineOnly.waitFor(1);
    expect(machineOnly.messages.map(label)).toEqual(['timeline:m1-old']);
    for (const key of ['gamma', '00000000-0000-4000-8000-000000000000']) {
      const r = await f.app.inject({ url: `/api/v1/events/stream?cluster=${key}`, headers: f.auth('viewer') });
      expect(r.statusCode).toBe(404);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    for (const bad of ['1-', '-1', '1-2-3', 'x']) {
      const r = await f.app.inject({ url: '/api/v1/events/stream', headers: { ...f.auth('viewer'), 'last-event-id': bad } });
      expect(r.statusCode, bad).toBe(400);
    }
  });
});
