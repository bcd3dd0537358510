import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Machine } from '../../server/inventory/machine.js';
import type { StoredEvent } from '../../server/store/types.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';
import { openSse, type SseConnection } from '../support/sse-client.js';

// The event stream over a real socket: live delivery, state changes, resume by Last-Event-ID with
// nothing lost or repeated, per-machine filtering, and the gate.

let f: HttpFixture;
let base: string;
let m1: Machine;
let m2: Machine;
const open: SseConnection[] = [];

beforeEach(async () => {
  f = await buildHttpFixture({ profiles: { p: { kernel: 'k', initrds: ['i'], cmdline: 'x' } }, boot: { defaultProfile: 'p' } });
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(f.app.server.address() as { port: number }).port}`;
  m1 = await f.addMachine({ name: 'm1', macs: ['52:54:00:00:00:01'] });
  m2 = await f.addMachine({ name: 'm2', macs: ['52:54:00:00:00:02'] });
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

const record = (m: Machine, kind: string) => f.timeline.record({ machineId: m.id, mac: null, source: 'http', kind, outcome: 'ok', message: kind });
const events = (c: SseConnection) => c.messages.map((x) => JSON.parse(x.data) as StoredEvent);

describe('GET /api/v1/events/stream', () => {
  it('refuses without a token (401 problem+json) and answers a viewer with text/event-stream', async () => {
    const denied = await openSse(`${base}/api/v1/events/stream`);
    expect(denied.status).toBe(401);
    expect(denied.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(await denied.body())).toMatchObject({ status: 401, code: 'RB_UNAUTHORIZED' });
    const c = await stream();
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(c.headers['cache-control']).toBe('no-store');
  });

  it('delivers timeline events live, with their ids, and state changes made through the API and the boot paths', async () => {
    const c = await stream();
    await record(m1, 'probe.one');
    const patched = await f.app.inject({ method: 'PATCH', url: `/api/v1/machines/${m2.id}`, payload: { state: 'installed' }, headers: f.auth() });
    expect(patched.statusCode).toBe(200);
    expect((await fetch(`${base}${f.bootPath(m1, '/script.ipxe')}`)).status).toBe(200);
    await c.waitFor(4);
    const got = events(c);
    expect(c.messages.every((x) => x.event === 'timeline')).toBe(true);
    // The id is the cursor `T-C`: T the timeline event id.
    expect(c.messages.map((x) => Number(x.id!.split('-')[0]))).toEqual(got.map((e) => e.id));
    expect(got.map((e) => [e.machineId, e.kind])).toEqual([
      [m1.id, 'probe.one'],
      [m2.id, 'state.changed'],
      [m1.id, 'lifecycle.transition'],
      [m1.id, 'script.served'],
    ]);
    expect(got[1]!.detail).toMatchObject({ to: 'installed' });
    expect(got[2]!.detail).toMatchObject({ to: 'booting-installer' });
    const ids = got.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('resumes after Last-Event-ID: missed events first, in order, then live ones, none twice', async () => {
    const first = await stream();
    await record(m1, 'a');
    await record(m2, 'b');
    const [, last] = await first.waitFor(2);
    first.close();
    // Recorded while no one listens.
    for (const k of ['c', 'd', 'e']) await record(m1, k);
    const resumed = await stream('', { 'last-event-id': last!.id! });
    await resumed.waitFor(3);
    await record(m2, 'f');
    await resumed.waitFor(4);
    expect(events(resumed).map((e) => e.kind)).toEqual(['c', 'd', 'e', 'f']);
    const again = await stream(`?after=${last!.id}`);
    await again.waitFor(4);
    expect(events(again).map((e) => e.kind)).toEqual(['c', 'd', 'e', 'f']);
  });

  it('replays more than one page of history without a gap', async () => {
    for (let i = 0; i < 1205; i++) await record(i % 2 ? m1 : m2, `bulk-${i}`);
    const c = await stream('?after=0');
    await c.waitFor(1205, 20_000);
    await record(m1, 'live');
    await c.waitFor(1206);
    const kinds = events(c).map((e) => e.kind);
    expect(kinds.slice(0, 1205)).toEqual(Array.from({ length: 1205 }, (_, i) => `bulk-${i}`));
    expect(kinds[1205]).toBe('live');
  });

  it("filters to one machine, live and on resume", async () => {
    await record(m1, 'old-1');
    await record(m2, 'old-2');
    const c = await stream(`?machine=${m2.id}&after=0`);
    await record(m1, 'new-1');
    await record(m2, 'new-2');
    await c.waitFor(2);
    expect(events(c).map((e) => [e.machineId, e.kind])).toEqual([
      [m2.id, 'old-2'],
      [m2.id, 'new-2'],
    ]);
  });

  it('answers a malformed Last-Event-ID or filter with 400 problem+json', async () => {
    for (const [q, h] of [
      ['', { 'last-event-id': 'abc' }],
      ['?machine=nope', {}],
      ['?colour=red', {}],
    ] as const) {
      const r = await f.app.inject({ url: `/api/v1/events/stream${q}`, headers: { ...f.auth('viewer'), ...h } });
      expect(r.statusCode, q).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});
