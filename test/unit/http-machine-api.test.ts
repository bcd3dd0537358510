import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Machine } from '../../server/inventory/machine.js';
import type { StoredEvent } from '../../server/store/types.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

const API = '/api/v1/machines';
const UUID = '00112233-4455-6677-8899-aabbccddeeff';
const UUID_SWAPPED = '33221100-5544-7766-8899-aabbccddeeff';
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  issues?: Array<{ line?: number; field: string; message: string }>;
}

interface ListBody {
  items: Machine[];
  total: number;
  limit: number;
  offset: number;
}

let f: HttpFixture;

beforeEach(async () => {
  f = await buildHttpFixture();
});
afterEach(async () => {
  await f.cleanup();
});

function send(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const h = { ...f.auth(), ...headers };
  if (body === undefined) return f.app.inject({ method, url, headers: h });
  if (typeof body === 'string') return f.app.inject({ method, url, payload: body, headers: h });
  return f.app.inject({ method, url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...h } });
}

/** Asserts an RFC 9457 problem response and returns its body. */
function problem(r: LightMyRequestResponse, status: number): Problem {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  const p = r.json() as Problem;
  expect(p.status).toBe(status);
  expect(typeof p.title).toBe('string');
  expect(p.type).toMatch(/^https:\/\//);
  return p;
}

async function create(body: Record<string, unknown>): Promise<Machine> {
  const r = await send('POST', API, body);
  expect(r.statusCode, r.body).toBe(201);
  return r.json() as Machine;
}

async function events(id: string, query = ''): Promise<{ items: StoredEvent[]; next: number }> {
  const r = await send('GET', `${API}/${id}/events${query}`);
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as { items: StoredEvent[]; next: number };
}

async function count(): Promise<number> {
  return (await f.store.machines.list()).total;
}

describe('POST /api/v1/machines', () => {
  it('creates a machine (201) in canonical form', async () => {
    const r = await send('POST', API, { name: 'node-1', macs: ['52-54-00-12-34-56'], smbiosUuid: UUID.toUpperCase(), rack: 'r1', tags: ['gpu'] });
    expect(r.statusCode).toBe(201);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const m = r.json() as Machine;
    expect(m).toMatchObject({ name: 'node-1', macs: ['52:54:00:12:34:56'], smbiosUuid: UUID, rack: 'r1', tags: ['gpu'], state: 'ready', tokenGeneration: 1 });
    expect(await f.store.machines.get(m.id)).toEqual(m);
  });

  it('answers 409 naming the owner when a MAC is taken, in any notation', async () => {
    await create({ name: 'owner', macs: ['52:54:00:12:34:56'] });
    const p = problem(await send('POST', API, { name: 'second', macs: ['5254.0012.3456'] }), 409);
    expect(p.detail).toBe("MAC 52:54:00:12:34:56 already belongs to machine 'owner'");
    expect(await count()).toBe(1);
  });

  it('answers 409 for a taken name or a UUID taken in either byte order', async () => {
    await create({ name: 'owner', macs: ['52:54:00:00:00:01'], smbiosUuid: UUID });
    expect(problem(await send('POST', API, { name: 'owner', macs: ['52:54:00:00:00:02'] }), 409).detail).toContain("'owner'");
    expect(problem(await send('POST', API, { name: 'other', macs: ['52:54:00:00:00:03'], smbiosUuid: UUID_SWAPPED }), 409).detail).toContain("'owner'");
  });

  it('answers 422 with field issues for an invalid machine', async () => {
    const p = problem(await send('POST', API, { name: 'node 1', macs: ['not-a-mac'] }), 422);
    expect(p.issues?.map((i) => i.field)).toEqual(['name']);
    const p2 = problem(await send('POST', API, { name: 'node-1', macs: ['52:54:00:00:00:01', 'zz'], network: { ip: '10.0.0.5' } }), 422);
    expect(p2.issues).toEqual([
      { field: 'macs.1', message: "not a MAC address: 'zz'" },
      { field: 'network.prefix', message: 'required with network.ip' },
    ]);
    expect(problem(await send('POST', API, { name: 'n', macs: ['52:54:00:00:00:01'], colour: 'red' }), 422).issues?.map((i) => i.field)).toContain('colour');
    expect(problem(await send('POST', API, []), 422).issues?.length).toBeGreaterThan(0);
    expect(await count()).toBe(0);
  });

  it('answers 400 problem+json for malformed JSON', async () => {
    problem(await send('POST', API, '{"name":', { 'content-type': 'application/json' }), 400);
    expect(await count()).toBe(0);
  });

  it('adopts boot events recorded under the MAC before the machine was registered', async () => {
    await f.store.events.append({ machineId: null, mac: '52:54:00:12:34:56', source: 'dhcp', kind: 'dhcp.discover', outcome: 'info', message: 'seen' });
    await f.store.events.append({ machineId: null, mac: '52:54:00:99:99:99', source: 'dhcp', kind: 'dhcp.discover', outcome: 'info', message: 'someone else' });
    const m = await create({ name: 'node-1', macs: ['52:54:00:12:34:56'] });
    const { items } = await events(m.id);
    expect(items.map((e) => [e.kind, e.mac])).toEqual([['dhcp.discover', '52:54:00:12:34:56']]);
  });
});

describe('GET /api/v1/machines', () => {
  beforeEach(async () => {
    for (const [i, [name, rack, tags]] of (
      [
        ['c', 'r1', ['gpu']],
        ['a', 'r1', ['gpu', 'ssd']],
        ['b', 'r2', []],
        ['d', 'r2', ['gpu']],
        ['e', 'r3', ['ssd']],
      ] as const
    ).entries()) {
      await create({ name, rack, tags: [...tags], macs: [`52:54:00:00:00:0${i + 1}`] });
    }
    const d = await f.store.machines.findByName('d');
    await f.store.machines.update(d!.id, { state: 'installed' });
  });

  async function list(query = ''): Promise<ListBody> {
    const r = await send('GET', `${API}${query}`);
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as ListBody;
  }

  it('lists all machines by name with paging defaults', async () => {
    const body = await list();
    expect(body.items.map((m) => m.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(body).toMatchObject({ total: 5, limit: 100, offset: 0 });
  });

  it('filters by state, rack and tag', async () => {
    expect((await list('?state=installed')).items.map((m) => m.name)).toEqual(['d']);
    expect((await list('?rack=r1')).items.map((m) => m.name)).toEqual(['a', 'c']);
    expect((await list('?tag=gpu')).items.map((m) => m.name)).toEqual(['a', 'c', 'd']);
    const both = await list('?tag=gpu&state=ready');
    expect(both.items.map((m) => m.name)).toEqual(['a', 'c']);
    expect(both.total).toBe(2);
    expect((await list('?rack=nowhere')).items).toEqual([]);
  });

  it('filters by BMC vendor (any case), role and profile, alone and combined with paging', async () => {
    const byName = async (name: string, patch: Record<string, unknown>) => expect((await send('PATCH', `${API}/${(await f.store.machines.findByName(name))!.id}`, patch)).statusCode).toBe(200);
    await byName('a', { bmc: { address: '192.0.2.11', vendor: 'Dell' }, role: 'control-plane', profile: 'p1' });
    await byName('c', { bmc: { address: '192.0.2.13', vendor: 'dell' }, role: 'worker' });
    await byName('e', { bmc: { address: '192.0.2.15', vendor: 'HPE' }, role: 'worker', profile: 'p1' });
    expect((await list('?bmcVendor=DELL')).items.map((m) => m.name)).toEqual(['a', 'c']);
    expect((await list('?bmcVendor=hpe')).items.map((m) => m.name)).toEqual(['e']);
    expect((await list('?role=worker')).items.map((m) => m.name)).toEqual(['c', 'e']);
    expect((await list('?profile=p1&role=worker')).items.map((m) => m.name)).toEqual(['e']);
    const page = await list('?bmcVendor=dell&limit=1&offset=1');
    expect(page.items.map((m) => m.name)).toEqual(['c']);
    expect(page.total).toBe(2);
    expect((await list('?bmcVendor=supermicro')).total).toBe(0);
  });

  it('pages with limit and offset, total counting every match', async () => {
    const p1 = await list('?limit=2');
    const p2 = await list('?limit=2&offset=2');
    const p3 = await list('?limit=2&offset=4');
    expect([p1, p2, p3].map((p) => p.items.map((m) => m.name))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect([p1.total, p2.total, p3.total]).toEqual([5, 5, 5]);
    expect(p2).toMatchObject({ limit: 2, offset: 2 });
    const filtered = await list('?tag=gpu&limit=1&offset=1');
    expect(filtered.items.map((m) => m.name)).toEqual(['c']);
    expect(filtered.total).toBe(3);
  });

  it('rejects bad filters and paging values with 400 problem+json', async () => {
    for (const q of ['?state=sleeping', '?limit=0', '?limit=1001', '?offset=-1', '?limit=ten', '?colour=red']) {
      problem(await send('GET', `${API}${q}`), 400);
    }
  });
});

describe('GET /api/v1/machines/:id', () => {
  it('returns the machine, 404 for an unknown id and 400 for a malformed one', async () => {
    const m = await create({ name: 'node-1', macs: ['52:54:00:00:00:01'] });
    const r = await send('GET', `${API}/${m.id}`);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual(m);
    problem(await send('GET', `${API}/${UNKNOWN_ID}`), 404);
    problem(await send('GET', `${API}/52:54:00:00:00:01`), 400);
  });
});

describe('PATCH /api/v1/machines/:id', () => {
  let m: Machine;

  beforeEach(async () => {
    m = await create({ name: 'node-1', macs: ['52:54:00:00:00:01'], rack: 'r1', serial: 'SN1', tags: ['a'] });
  });

  it('changes only the given fields', async () => {
    const r = await send('PATCH', `${API}/${m.id}`, { rack: 'r9', tags: ['b', 'c'] });
    expect(r.statusCode, r.body).toBe(200);
    const u = r.json() as Machine;
    expect(u).toMatchObject({ id: m.id, name: 'node-1', rack: 'r9', serial: 'SN1', tags: ['b', 'c'], macs: ['52:54:00:00:00:01'], state: 'ready' });
    expect(u.tokenGeneration).toBe(m.tokenGeneration);
    expect(await f.store.machines.get(m.id)).toEqual(u);
  });

  it('replaces MACs, canonicalising them; the old MAC stops matching', async () => {
    const r = await send('PATCH', `${API}/${m.id}`, { macs: ['52-54-00-00-00-02', '52:54:00:00:00:03'] });
    expect(r.statusCode, r.body).toBe(200);
    expect((r.json() as Machine).macs).toEqual(['52:54:00:00:00:02', '52:54:00:00:00:03']);
    expect(await f.store.machines.findByMac('52:54:00:00:00:01')).toBeNull();
    expect((await f.store.machines.findByMac('52:54:00:00:00:03'))?.id).toBe(m.id);
  });

  it('records a state change on the timeline, and nothing when the state is unchanged', async () => {
    const r = await send('PATCH', `${API}/${m.id}`, { state: 'installed' });
    expect(r.statusCode, r.body).toBe(200);
    expect((r.json() as Machine).state).toBe('installed');
    await send('PATCH', `${API}/${m.id}`, { state: 'installed', rack: 'r2' });
    const { items } = await events(m.id);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ machineId: m.id, source: 'api', kind: 'state.changed', detail: { from: 'ready', to: 'installed' } });
  });

  it('keeps the state when the patch does not name one', async () => {
    await f.store.machines.update(m.id, { state: 'installed' });
    const r = await send('PATCH', `${API}/${m.id}`, { rack: 'r2' });
    expect((r.json() as Machine).state).toBe('installed');
  });

  it('keeps discovery information', async () => {
    const discovery = { firstSeenAt: '2024-01-01T00:00:00.000Z', vendorClass: 'PXEClient:Arch:00007', clientArch: 7, relay: null };
    await f.store.machines.update(m.id, { discovery });
    const r = await send('PATCH', `${API}/${m.id}`, { rack: 'r2' });
    expect((r.json() as Machine).discovery).toEqual(discovery);
  });

  it('answers 422 for invalid values, unknown fields and bad states, changing nothing', async () => {
    for (const body of [{ macs: ['nope'] }, { name: 'bad name' }, { colour: 'red' }, { state: 'sleeping' }, { macs: [] }, { network: { ip: '10.0.0.5' } }]) {
      const p = problem(await send('PATCH', `${API}/${m.id}`, body), 422);
      expect(p.issues?.length, JSON.stringify(body)).toBeGreaterThan(0);
    }
    expect(await f.store.machines.get(m.id)).toEqual(m);
    expect((await events(m.id)).items).toEqual([]);
  });

  it('answers 409 when the patch takes another machine’s MAC or name', async () => {
    await create({ name: 'other', macs: ['52:54:00:00:00:09'] });
    expect(problem(await send('PATCH', `${API}/${m.id}`, { macs: ['52:54:00:00:00:09'] }), 409).detail).toContain("'other'");
    expect(problem(await send('PATCH', `${API}/${m.id}`, { name: 'other' }), 409).detail).toContain("'other'");
    expect(await f.store.machines.get(m.id)).toEqual(m);
  });

  it('answers 404 for an unknown machine', async () => {
    problem(await send('PATCH', `${API}/${UNKNOWN_ID}`, { rack: 'x' }), 404);
  });
});

describe('DELETE /api/v1/machines/:id', () => {
  it('deletes (204), frees its MACs, and 404s afterwards', async () => {
    const m = await create({ name: 'node-1', macs: ['52:54:00:00:00:01'] });
    const r = await send('DELETE', `${API}/${m.id}`);
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe('');
    problem(await send('GET', `${API}/${m.id}`), 404);
    problem(await send('DELETE', `${API}/${m.id}`), 404);
    await create({ name: 'node-1', macs: ['52:54:00:00:00:01'] });
  });
});

describe('GET /api/v1/machines/:id/events', () => {
  it('pages with after and limit and returns the cursor to continue from', async () => {
    const m = await create({ name: 'node-1', macs: ['52:54:00:00:00:01'] });
    const other = await create({ name: 'node-2', macs: ['52:54:00:00:00:02'] });
    for (let i = 0; i < 5; i++) {
      await f.timeline.record({ machineId: m.id, mac: null, source: 'http', kind: `k${i}`, outcome: 'ok', message: `m${i}` });
      await f.timeline.record({ machineId: other.id, mac: null, source: 'http', kind: 'other', outcome: 'ok', message: 'x' });
    }
    const first = await events(m.id, '?limit=2');
    expect(first.items.map((e) => e.kind)).toEqual(['k0', 'k1']);
    expect(first.next).toBe(first.items[1]!.id);
    const second = await events(m.id, `?after=${first.next}&limit=2`);
    expect(second.items.map((e) => e.kind)).toEqual(['k2', 'k3']);
    const rest = await events(m.id, `?after=${second.next}`);
    expect(rest.items.map((e) => e.kind)).toEqual(['k4']);
    const done = await events(m.id, `?after=${rest.next}`);
    expect(done).toEqual({ items: [], next: rest.next });
  });

  it('404s an unknown machine and 400s bad paging', async () => {
    problem(await send('GET', `${API}/${UNKNOWN_ID}/events`), 404);
    const m = await create({ name: 'node-1', macs: ['52:54:00:00:00:01'] });
    problem(await send('GET', `${API}/${m.id}/events?limit=0`), 400);
    problem(await send('GET', `${API}/${m.id}/events?after=-1`), 400);
  });
});

describe('POST /api/v1/machines/import', () => {
  const CSV = 'name,mac,rack,tags\nn1,52:54:00:00:00:01,r1,gpu;ssd\nn2,52-54-00-00-00-02,r1,\n';
  const YAML = 'machines:\n  - name: y1\n    macs: [52:54:00:00:01:01]\n  - name: y2\n    macs: [52:54:00:00:01:02]\n    rack: r2\n';

  function importing(body: string, type: string): Promise<LightMyRequestResponse> {
    return f.app.inject({ method: 'POST', url: `${API}/import`, payload: body, headers: { 'content-type': type, ...f.auth() } });
  }

  it('imports CSV (201) and returns the count and machines', async () => {
    const r = await importing(CSV, 'text/csv');
    expect(r.statusCode, r.body).toBe(201);
    const body = r.json() as { created: number; items: Machine[] };
    expect(body.created).toBe(2);
    expect(body.items.map((m) => [m.name, m.macs, m.tags])).toEqual([
      ['n1', ['52:54:00:00:00:01'], ['gpu', 'ssd']],
      ['n2', ['52:54:00:00:00:02'], []],
    ]);
    expect(await count()).toBe(2);
  });

  it('imports YAML under each YAML media type, with parameters', async () => {
    for (const [i, type] of ['application/yaml', 'application/x-yaml', 'text/yaml; charset=utf-8'].entries()) {
      const r = await importing(YAML.replace(/y(\d)/g, `y$1-${i}`).replace(/01:0(\d)/g, `0${i + 2}:0$1`), type);
      expect(r.statusCode, `${type}: ${r.body}`).toBe(201);
      expect((r.json() as { created: number }).created).toBe(2);
    }
    expect(await count()).toBe(6);
  });

  it('accepts CSV with a charset parameter', async () => {
    expect((await importing(CSV, 'text/csv; charset=utf-8')).statusCode).toBe(201);
  });

  it('answers 422 with line numbers and writes nothing when any CSV row is bad', async () => {
    const text = 'name,mac\nn1,52:54:00:00:00:01\nn2,not-a-mac\nn3,52:54:00:00:00:03\nn1,52:54:00:00:00:04\n';
    const p = problem(await importing(text, 'text/csv'), 422);
    expect(p.detail).toMatch(/nothing was imported/);
    expect(p.issues?.map((i) => [i.line, i.field])).toEqual([
      [3, 'macs.0'],
      [5, 'name'],
    ]);
    expect(await count()).toBe(0);
  });

  it('answers 422 with line numbers and writes nothing when any YAML machine is bad', async () => {
    const text = '- name: ok-1\n  macs: [52:54:00:00:00:01]\n- name: bad one\n  macs: [52:54:00:00:00:02]\n';
    const p = problem(await importing(text, 'application/yaml'), 422);
    expect(p.issues?.map((i) => i.line)).toEqual([3]);
    expect(await count()).toBe(0);
  });

  it('answers 422 naming the owner when a row clashes with a stored machine', async () => {
    await create({ name: 'owner', macs: ['52:54:00:00:00:02'] });
    const p = problem(await importing(CSV, 'text/csv'), 422);
    expect(p.issues).toEqual([{ line: 3, field: 'macs.0', message: "MAC 52:54:00:00:00:02 already belongs to machine 'owner'" }]);
    expect(await count()).toBe(1);
  });

  it('answers 422 for unparseable files', async () => {
    expect(problem(await importing('name,mac,colour\nn,52:54:00:00:00:01,red\n', 'text/csv'), 422).issues?.[0]).toMatchObject({ line: 1, field: 'colour' });
    expect(problem(await importing('- name: a\n  macs: [52:54\n', 'application/yaml'), 422).issues?.length).toBeGreaterThan(0);
    expect(problem(await importing('', 'text/csv'), 422).issues?.[0]?.message).toBe('the file is empty');
  });

  it('answers 415 for other content types, importing nothing', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/octet-stream', 'application/x-www-form-urlencoded']) {
      const p = problem(await importing(CSV, type), 415);
      expect(p.status, type).toBe(415);
    }
    problem(await importing(JSON.stringify([{ name: 'j', macs: ['52:54:00:00:00:01'] }]), 'application/json'), 415);
    problem(await f.app.inject({ method: 'POST', url: `${API}/import`, payload: CSV, headers: f.auth() }), 415);
    expect(await count()).toBe(0);
  });

  it('adopts earlier boot events for imported MACs', async () => {
    await f.store.events.append({ machineId: null, mac: '52:54:00:00:00:02', source: 'tftp', kind: 'tftp.sent', outcome: 'ok', message: 'x' });
    const r = await importing(CSV, 'text/csv');
    const n2 = (r.json() as { items: Machine[] }).items.find((m) => m.name === 'n2')!;
    expect((await events(n2.id)).items.map((e) => e.kind)).toEqual(['tftp.sent']);
  });
});

describe('errors and health', () => {
  it('answers unknown API routes and methods with problem+json', async () => {
    problem(await send('GET', '/api/v1/nothing'), 404);
    problem(await send('GET', '/api/v2/machines'), 404);
    problem(await f.app.inject({ method: 'PUT', url: API, headers: f.auth() }), 404);
  });

  it('answers an oversized body with 413 problem+json', async () => {
    problem(await send('POST', API, { name: 'big', macs: ['52:54:00:00:00:01'], serial: 'x'.repeat(2 * 1024 * 1024) }), 413);
    expect(await count()).toBe(0);
  });

  it('serves a health check', async () => {
    const r = await send('GET', '/healthz');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ ok: true });
  });
});
