import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Machine } from '../../server/inventory/machine.js';
import type { SubjectProgress } from '../../server/progress/progress-board.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';
import { openSse, type SseConnection } from '../support/sse-client.js';

// GET /api/v1/progress and `event: progress` on the event stream, over a real socket: documented with
// its schema, behind the gate, filtered, and streamed only to clients that ask (without an id).

let f: HttpFixture;
let base: string;
let m1: Machine;
let m2: Machine;
const open: SseConnection[] = [];

beforeAll(async () => {
  f = await buildHttpFixture({ profiles: { p: { kernel: 'k', initrds: ['i'], cmdline: 'x' } }, boot: { defaultProfile: 'p' } });
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(f.app.server.address() as { port: number }).port}`;
  m1 = await f.addMachine({ name: 'p1', macs: ['52:54:00:00:30:01'] });
  m2 = await f.addMachine({ name: 'p2', macs: ['52:54:00:00:30:02'] });
});
afterAll(async () => {
  for (const c of open.splice(0)) c.close();
  f.progress.close();
  await f.cleanup();
});

async function stream(query: string): Promise<SseConnection> {
  const c = await openSse(`${base}/api/v1/events/stream${query}`, f.auth('viewer'));
  open.push(c);
  return c;
}

describe('GET /api/v1/progress', () => {
  it('is documented with the SubjectProgress schema and refuses a request without a token', async () => {
    const doc = (await f.app.inject({ method: 'GET', url: '/api/v1/openapi.json', headers: f.auth('viewer') })).json() as {
      paths: Record<string, { get: { responses: Record<string, unknown> } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(JSON.stringify(doc.paths['/api/v1/progress']!.get.responses['200'])).toContain('SubjectProgress');
    expect(Object.keys(doc.components.schemas.SubjectProgress!.properties!)).toEqual(['subject', 'id', 'transfers', 'stage']);
    const denied = await f.app.inject({ method: 'GET', url: '/api/v1/progress' });
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('lists what is in flight, filtered by machine or cluster', async () => {
    const h = f.progress.download(m1.id, 'kernel', { range: null, bytes: 4 << 20, size: 4 << 20 })!;
    h.sent(1 << 20);
    f.progress.upload('5c1d2f6e-0000-4000-8000-000000000001', 'bundle.tar', 100, 1);
    const all = (await f.app.inject({ method: 'GET', url: '/api/v1/progress', headers: f.auth('viewer') })).json() as { items: SubjectProgress[] };
    expect(all.items.map((p) => `${p.subject}:${p.id}`).sort()).toEqual([`cluster:5c1d2f6e-0000-4000-8000-000000000001`, `machine:${m1.id}`].sort());
    const one = (await f.app.inject({ method: 'GET', url: `/api/v1/progress?machine=${m1.id}`, headers: f.auth('viewer') })).json() as { items: SubjectProgress[] };
    expect(one.items).toHaveLength(1);
    expect(one.items[0]!.transfers[0]).toMatchObject({ label: 'kernel', done: 1 << 20, total: 4 << 20, status: 'running' });
    const none = (await f.app.inject({ method: 'GET', url: `/api/v1/progress?machine=${m2.id}`, headers: f.auth('viewer') })).json() as { items: SubjectProgress[] };
    expect(none.items).toEqual([]);
    const bad = await f.app.inject({ method: 'GET', url: '/api/v1/progress?machine=nope', headers: f.auth('viewer') });
    expect(bad.statusCode).toBe(400);
    h.end(true);
  });
});

describe('event: progress', () => {
  it('comes only with ?progress=true: a snapshot on connect, then changes, never with an id', async () => {
    const plain = await stream('');
    const withProgress = await stream(`?progress=true&machine=${m2.id}`);
    expect(withProgress.status).toBe(200);
    // Another machine's transfer is filtered out; m2's arrives as start and end.
    f.progress.download(m1.id, 'initrd', { range: null, bytes: 2 << 20, size: 2 << 20 })!.end(true);
    const h = f.progress.download(m2.id, 'rootfs.squashfs', { range: null, bytes: 8 << 20, size: 8 << 20 })!;
    h.end(true);
    await f.timeline.record({ machineId: m2.id, mac: null, source: 'http', kind: 'artifact.fetched', outcome: 'ok', message: 'sent' });
    const got = await withProgress.waitFor(3);
    expect(got.map((m) => m.event)).toEqual(['progress', 'progress', 'timeline']);
    expect(got.slice(0, 2).map((m) => m.id)).toEqual([null, null]);
    const p = got.slice(0, 2).map((m) => JSON.parse(m.data) as SubjectProgress);
    expect(p.map((x) => [x.id, x.transfers[0]!.label, x.transfers[0]!.status])).toEqual([
      [m2.id, 'rootfs.squashfs', 'running'],
      [m2.id, 'rootfs.squashfs', 'done'],
    ]);
    await plain.waitFor(1);
    expect(plain.messages.map((m) => m.event)).toEqual(['timeline']);

    // A new client gets the current state first.
    const late = await stream(`?progress=true&machine=${m2.id}`);
    const [snap] = await late.waitFor(1);
    expect(snap!.event).toBe('progress');
    expect((JSON.parse(snap!.data) as SubjectProgress).transfers[0]).toMatchObject({ label: 'rootfs.squashfs', status: 'done', done: 8 << 20 });
  });
});
