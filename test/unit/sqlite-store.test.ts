import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewMachine } from '../../server/inventory/machine.js';
import { MIGRATIONS, type Migration } from '../../server/store/sqlite/migrations.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import { StoreError, type Lease, type NewEvent, type Store } from '../../server/store/types.js';

const UUID = '00112233-4455-6677-8899-aabbccddeeff';
const UUID_SWAPPED = '33221100-5544-7766-8899-aabbccddeeff';

function newMachine(name: string, macs: string[], extra: Partial<NewMachine> = {}): NewMachine {
  return {
    name,
    macs,
    smbiosUuid: null,
    serial: null,
    arch: null,
    firmware: null,
    role: null,
    rack: null,
    tags: [],
    network: null,
    disks: [],
    profile: null,
    bmc: null,
    maas: null,
    state: 'ready',
    discovery: null,
    ...extra,
  };
}

function mac(n: number): string {
  return `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
}

async function storeError(p: Promise<unknown>): Promise<StoreError> {
  const e: unknown = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof StoreError)) throw new Error(`expected a StoreError, got ${String(e)}`);
  return e;
}

let dir: string;
let dbPath: string;
let store: Store;
let closed: boolean;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-store-'));
  dbPath = join(dir, 'nested', 'rackboot.db');
  store = openSqliteStore(dbPath);
  closed = false;
});
afterEach(async () => {
  if (!closed) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function reopen(migrations?: Migration[]): Promise<Store> {
  if (!closed) await store.close();
  store = migrations === undefined ? openSqliteStore(dbPath) : openSqliteStore(dbPath, migrations);
  closed = false;
  return store;
}

async function names(): Promise<string[]> {
  return (await store.machines.list()).items.map((m) => m.name);
}

async function macCount(): Promise<number> {
  await store.close();
  closed = true;
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM machine_macs').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('machines: create and read', () => {
  it('stores every field and returns it with an id, timestamps and token generation 1', async () => {
    const input = newMachine('node-1', [mac(1), mac(2)], {
      smbiosUuid: UUID,
      serial: 'SN1',
      arch: 'x86_64',
      firmware: 'uefi',
      role: 'worker',
      rack: 'r1',
      tags: ['gpu', 'ssd'],
      network: { hostname: 'node-1', ip: '10.0.0.5', prefix: 24, dns: ['10.0.0.2'] },
      profile: 'installer',
      bmc: { address: '10.1.0.5', vendor: 'dell' },
      maas: { systemId: 'abc' },
      discovery: { firstSeenAt: '2024-01-01T00:00:00.000Z', vendorClass: 'PXEClient', clientArch: 7, relay: null },
    });
    const m = await store.machines.create(input);
    expect(m).toMatchObject(input);
    expect(m.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(m.tokenGeneration).toBe(1);
    expect(Number.isNaN(Date.parse(m.createdAt))).toBe(false);
    expect(m.updatedAt).toBe(m.createdAt);
    expect(await store.machines.get(m.id)).toEqual(m);
  });

  it('gives each machine its own id', async () => {
    const a = await store.machines.create(newMachine('a', [mac(1)]));
    const b = await store.machines.create(newMachine('b', [mac(2)]));
    expect(a.id).not.toBe(b.id);
  });

  it('returns null for unknown ids, names, MACs and UUIDs', async () => {
    await store.machines.create(newMachine('a', [mac(1)], { smbiosUuid: UUID }));
    expect(await store.machines.get('00000000-0000-0000-0000-000000000000')).toBeNull();
    expect(await store.machines.findByName('b')).toBeNull();
    expect(await store.machines.findByMac(mac(9))).toBeNull();
    expect(await store.machines.findByUuid('ffffffff-4455-6677-8899-aabbccddeeff')).toBeNull();
  });

  it('finds a machine by any of its MACs and keeps their order', async () => {
    const m = await store.machines.create(newMachine('multi', [mac(3), mac(1), mac(2)]));
    for (const x of [mac(1), mac(2), mac(3)]) expect((await store.machines.findByMac(x))?.id, x).toBe(m.id);
    expect((await store.machines.get(m.id))?.macs).toEqual([mac(3), mac(1), mac(2)]);
  });

  it('finds a machine by its UUID in either byte order', async () => {
    const m = await store.machines.create(newMachine('u', [mac(1)], { smbiosUuid: UUID }));
    expect((await store.machines.findByUuid(UUID))?.id).toBe(m.id);
    expect((await store.machines.findByUuid(UUID_SWAPPED))?.id).toBe(m.id);
  });

  it('finds a machine by name', async () => {
    const m = await store.machines.create(newMachine('by-name', [mac(1)]));
    expect((await store.machines.findByName('by-name'))?.id).toBe(m.id);
  });
});

describe('machines: conflicts', () => {
  it('rejects a duplicate name, naming it', async () => {
    await store.machines.create(newMachine('a', [mac(1)]));
    const e = await storeError(store.machines.create(newMachine('a', [mac(2)])));
    expect(e.code).toBe('RB_CONFLICT');
    expect(e.message).toBe("a machine named 'a' already exists");
  });

  it('rejects a MAC owned by another machine, naming the owner, and writes nothing', async () => {
    await store.machines.create(newMachine('owner', [mac(1), mac(2)]));
    const e = await storeError(store.machines.create(newMachine('second', [mac(3), mac(2)])));
    expect(e.code).toBe('RB_CONFLICT');
    expect(e.message).toBe(`MAC ${mac(2)} already belongs to machine 'owner'`);
    expect(await names()).toEqual(['owner']);
    expect(await store.machines.findByMac(mac(3))).toBeNull();
  });

  it('rejects a UUID owned by another machine in either byte order', async () => {
    await store.machines.create(newMachine('owner', [mac(1)], { smbiosUuid: UUID }));
    for (const [i, uuid] of [UUID, UUID_SWAPPED].entries()) {
      const e = await storeError(store.machines.create(newMachine(`other${i}`, [mac(10 + i)], { smbiosUuid: uuid })));
      expect(e.code).toBe('RB_CONFLICT');
      expect(e.message).toContain("'owner'");
    }
    expect(await names()).toEqual(['owner']);
  });
});

describe('machines: createMany', () => {
  it('creates all machines', async () => {
    const ms = await store.machines.createMany([newMachine('a', [mac(1)]), newMachine('b', [mac(2)]), newMachine('c', [mac(3)])]);
    expect(ms.map((m) => m.name)).toEqual(['a', 'b', 'c']);
    expect(await names()).toEqual(['a', 'b', 'c']);
  });

  it('writes nothing when a later entry conflicts with the store', async () => {
    await store.machines.create(newMachine('old', [mac(9)]));
    const e = await storeError(store.machines.createMany([newMachine('a', [mac(1)]), newMachine('b', [mac(9)])]));
    expect(e.message).toContain("'old'");
    expect(await names()).toEqual(['old']);
    expect(await store.machines.findByMac(mac(1))).toBeNull();
  });

  it('writes nothing when two entries conflict with each other', async () => {
    await expect(store.machines.createMany([newMachine('a', [mac(1)]), newMachine('b', [mac(2)]), newMachine('c', [mac(2)])])).rejects.toBeInstanceOf(StoreError);
    expect(await names()).toEqual([]);
    expect(await macCount()).toBe(0);
  });
});

describe('machines: list', () => {
  beforeEach(async () => {
    await store.machines.createMany([
      newMachine('c-node', [mac(3)], { rack: 'r1', tags: ['gpu'] }),
      newMachine('a-node', [mac(1)], { rack: 'r1', tags: ['gpu', 'ssd'], state: 'installed' }),
      newMachine('b-node', [mac(2)], { rack: 'r2', tags: ['gpu2'] }),
      newMachine('d-node', [mac(4)], { rack: 'r2', tags: [], state: 'installed' }),
    ]);
  });

  it('lists every machine ordered by name with the total', async () => {
    const r = await store.machines.list();
    expect(r.total).toBe(4);
    expect(r.items.map((m) => m.name)).toEqual(['a-node', 'b-node', 'c-node', 'd-node']);
    expect(r.items[0]!.macs).toEqual([mac(1)]);
  });

  it('filters by state, rack and exact tag, alone and combined', async () => {
    const pick = async (f: Parameters<Store['machines']['list']>[0]) => (await store.machines.list(f)).items.map((m) => m.name);
    expect(await pick({ state: 'installed' })).toEqual(['a-node', 'd-node']);
    expect(await pick({ rack: 'r1' })).toEqual(['a-node', 'c-node']);
    expect(await pick({ tag: 'gpu' })).toEqual(['a-node', 'c-node']);
    expect(await pick({ tag: 'gp' })).toEqual([]);
    expect(await pick({ tag: 'gpu', state: 'ready' })).toEqual(['c-node']);
    expect(await pick({ rack: 'r2', state: 'installed' })).toEqual(['d-node']);
    expect(await pick({ state: 'failed' })).toEqual([]);
  });

  it('paginates with limit and offset while total counts every match', async () => {
    expect(await store.machines.list({ limit: 2 })).toMatchObject({ total: 4 });
    expect((await store.machines.list({ limit: 2 })).items.map((m) => m.name)).toEqual(['a-node', 'b-node']);
    expect((await store.machines.list({ limit: 2, offset: 2 })).items.map((m) => m.name)).toEqual(['c-node', 'd-node']);
    const last = await store.machines.list({ limit: 2, offset: 4 });
    expect(last).toEqual({ items: [], total: 4 });
    const filtered = await store.machines.list({ tag: 'gpu', limit: 1, offset: 1 });
    expect(filtered.total).toBe(2);
    expect(filtered.items.map((m) => m.name)).toEqual(['c-node']);
  });
});

describe('machines: update', () => {
  it('changes the given fields and leaves the rest', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1)], { rack: 'r1', serial: 'S' }));
    const u = await store.machines.update(m.id, { rack: 'r9', state: 'installed', tags: ['x'] });
    expect(u).toMatchObject({ id: m.id, name: 'a', rack: 'r9', serial: 'S', state: 'installed', tags: ['x'], macs: [mac(1)], tokenGeneration: 1 });
    expect(u.createdAt).toBe(m.createdAt);
    expect(await store.machines.get(m.id)).toEqual(u);
  });

  it('replaces the MAC list: old MACs stop matching, new ones match', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1), mac(2)]));
    const u = await store.machines.update(m.id, { macs: [mac(2), mac(3)] });
    expect(u.macs).toEqual([mac(2), mac(3)]);
    expect(await store.machines.findByMac(mac(1))).toBeNull();
    expect((await store.machines.findByMac(mac(3)))?.id).toBe(m.id);
    // The freed MAC can go to another machine.
    await store.machines.create(newMachine('b', [mac(1)]));
    expect((await store.machines.findByMac(mac(1)))?.name).toBe('b');
  });

  it('may keep or reorder its own MACs, name and UUID without conflicting with itself', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1), mac(2)], { smbiosUuid: UUID }));
    const u = await store.machines.update(m.id, { name: 'a', macs: [mac(2), mac(1)], smbiosUuid: UUID });
    expect(u.macs).toEqual([mac(2), mac(1)]);
  });

  it('refuses a MAC, name or UUID owned by another machine and changes nothing', async () => {
    await store.machines.create(newMachine('owner', [mac(9)], { smbiosUuid: UUID }));
    const m = await store.machines.create(newMachine('a', [mac(1)], { rack: 'r1' }));
    const e1 = await storeError(store.machines.update(m.id, { macs: [mac(2), mac(9)], rack: 'changed' }));
    expect(e1.code).toBe('RB_CONFLICT');
    expect(e1.message).toContain("'owner'");
    expect(await storeError(store.machines.update(m.id, { name: 'owner' }))).toMatchObject({ code: 'RB_CONFLICT' });
    expect(await storeError(store.machines.update(m.id, { smbiosUuid: UUID_SWAPPED }))).toMatchObject({ code: 'RB_CONFLICT' });
    const after = await store.machines.get(m.id);
    expect(after).toMatchObject({ name: 'a', macs: [mac(1)], rack: 'r1', smbiosUuid: null });
    expect(await store.machines.findByMac(mac(2))).toBeNull();
  });

  it('re-indexes a changed UUID in both byte orders', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1)], { smbiosUuid: 'ffffffff-0000-0000-0000-000000000001' }));
    await store.machines.update(m.id, { smbiosUuid: UUID });
    expect((await store.machines.findByUuid(UUID_SWAPPED))?.id).toBe(m.id);
    expect(await store.machines.findByUuid('ffffffff-0000-0000-0000-000000000001')).toBeNull();
    await store.machines.update(m.id, { smbiosUuid: null });
    expect(await store.machines.findByUuid(UUID)).toBeNull();
    expect(await store.machines.findByUuid(UUID_SWAPPED)).toBeNull();
  });

  it('fails with RB_NOT_FOUND for an unknown id', async () => {
    expect(await storeError(store.machines.update('00000000-0000-0000-0000-000000000000', { rack: 'x' }))).toMatchObject({ code: 'RB_NOT_FOUND' });
  });
});

describe('machines: rotateToken and delete', () => {
  it('increments the token generation on each rotation', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1)]));
    expect((await store.machines.rotateToken(m.id)).tokenGeneration).toBe(2);
    expect((await store.machines.rotateToken(m.id)).tokenGeneration).toBe(3);
    expect((await store.machines.get(m.id))?.tokenGeneration).toBe(3);
    // An ordinary update does not reset it.
    expect((await store.machines.update(m.id, { rack: 'r' })).tokenGeneration).toBe(3);
  });

  it('fails with RB_NOT_FOUND when rotating an unknown machine', async () => {
    expect(await storeError(store.machines.rotateToken('00000000-0000-0000-0000-000000000000'))).toMatchObject({ code: 'RB_NOT_FOUND' });
  });

  it('deletes a machine and its MACs, freeing name, MACs and UUID', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1), mac(2)], { smbiosUuid: UUID }));
    const keep = await store.machines.create(newMachine('keep', [mac(5)]));
    expect(await store.machines.delete(m.id)).toBe(true);
    expect(await store.machines.get(m.id)).toBeNull();
    expect(await store.machines.findByMac(mac(1))).toBeNull();
    expect(await store.machines.findByUuid(UUID)).toBeNull();
    expect(await store.machines.delete(m.id)).toBe(false);
    const again = await store.machines.create(newMachine('a', [mac(1), mac(2)], { smbiosUuid: UUID_SWAPPED }));
    expect((await store.machines.findByMac(mac(2)))?.id).toBe(again.id);
    expect((await store.machines.get(keep.id))?.macs).toEqual([mac(5)]);
  });

  it('leaves no orphan MAC rows behind', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1), mac(2)]));
    await store.machines.create(newMachine('b', [mac(3)]));
    await store.machines.delete(m.id);
    expect(await macCount()).toBe(1);
  });
});

describe('machines: transition', () => {
  it('moves only from the expected states and keeps the state a machine failed in', async () => {
    const m = await store.machines.create(newMachine('a', [mac(1)], { state: 'installed' }));
    expect(await store.machines.transition(m.id, ['ready'], 'failed', 'x')).toBeNull();
    const failed = (await store.machines.transition(m.id, ['installed'], 'failed', 'host silent'))!;
    expect(failed).toMatchObject({ state: 'failed', stateReason: 'host silent', failedFrom: 'installed' });
    expect((await store.machines.get(m.id))!.failedFrom).toBe('installed');
    // Leaving failed clears it, by a transition or by an update of the state.
    expect((await store.machines.transition(m.id, ['failed'], 'installed', null))!).toMatchObject({ state: 'installed', failedFrom: null });
    await store.machines.transition(m.id, ['installed'], 'failed', 'again');
    expect((await store.machines.update(m.id, { state: 'ready' })).failedFrom).toBeNull();
  });
});

describe('clusters', () => {
  const spec = { vip: '192.0.2.5', ntpServers: [], sshKeys: [], profileVariables: [], contentBundle: '/srv/b.tar' };
  async function cluster(name: string, n: number) {
    const m = await store.machines.create(newMachine(`${name}-m`, [mac(n)], { state: 'installed' }));
    return store.clusters.create({ name, spec, members: [{ machineId: m.id, role: 'control-plane' }] });
  }

  it('lists by state with pagination, total counting every match', async () => {
    const [a, b, c] = [await cluster('a', 1), await cluster('b', 2), await cluster('c', 3)];
    await store.clusters.transition(b.id, ['forming'], 'failed', 'x');
    expect((await store.clusters.list()).items.map((x) => x.name)).toEqual(['a', 'b', 'c']);
    expect(await store.clusters.list({ state: 'forming', limit: 1 })).toMatchObject({ total: 2, items: [{ id: a.id }] });
    expect(await store.clusters.list({ state: 'forming', limit: 1, offset: 1 })).toMatchObject({ total: 2, items: [{ id: c.id }] });
    expect(await store.clusters.list({ state: 'failed' })).toMatchObject({ total: 1, items: [{ id: b.id }] });
    expect(await store.clusters.list({ state: 'enrolled' })).toEqual({ total: 0, items: [] });
  });

  it('reopens only a failed cluster: forming again, undone steps restarted, done steps kept', async () => {
    const c = await cluster('a', 1);
    await store.clusters.beginStep(c.id, 'content-upload', '');
    await store.clusters.finishStep(c.id, 'content-upload', '');
    const open = await store.clusters.beginStep(c.id, 'cluster-running', '');
    expect(await store.clusters.reopen(c.id)).toBeNull();
    await store.clusters.transition(c.id, ['forming'], 'failed', 'broken');
    // Both steps started long ago, so what reopen restarts is told apart without waiting.
    const LONG_AGO = '2000-01-01T00:00:00.000Z';
    await store.close();
    const db = new Database(dbPath);
    db.prepare('UPDATE cluster_steps SET started_at = ? WHERE cluster_id = ?').run(LONG_AGO, c.id);
    db.close();
    await reopen();
    const again = (await store.clusters.reopen(c.id))!;
    expect(again).toMatchObject({ state: 'forming', stateReason: null });
    expect(again.stateEnteredAt).not.toBe(LONG_AGO);
    expect((await store.clusters.step(c.id, 'content-upload'))!).toMatchObject({ status: 'done', startedAt: LONG_AGO });
    expect((await store.clusters.step(c.id, 'cluster-running'))!).toMatchObject({ status: 'started', attempts: open.attempts, startedAt: again.stateEnteredAt });
  });

  it('deletes a failed or enrolled cluster, never a forming one, with its members and steps, freeing its machines', async () => {
    const c = await cluster('a', 1);
    await store.clusters.beginStep(c.id, 'host-ready', c.members[0]!.machineId);
    expect(await store.clusters.deleteEnded(c.id)).toBe(false);
    await store.clusters.transition(c.id, ['forming'], 'failed', 'x');
    expect(await store.clusters.deleteEnded(c.id)).toBe(true);
    expect(await store.clusters.get(c.id)).toBeNull();
    expect(await store.clusters.steps(c.id)).toEqual([]);
    expect(await store.clusters.deleteEnded(c.id)).toBe(false);
    const next = await store.clusters.create({ name: 'a', spec, members: c.members });
    expect(next.members).toEqual(c.members);
    await store.clusters.transition(next.id, ['forming'], 'enrolled', null);
    expect(await store.clusters.deleteEnded(next.id)).toBe(true);
    expect(await store.clusters.list()).toEqual({ items: [], total: 0 });
  });
});

describe('leases', () => {
  const lease = (ip: string, extra: Partial<Lease> = {}): Lease => ({
    ip,
    mac: mac(1),
    clientId: '01525400000001',
    machineId: null,
    state: 'offered',
    expiresAt: 1_700_000_000_000,
    hostname: null,
    ...extra,
  });

  it('stores, replaces by IP and removes leases', async () => {
    await store.leases.put(lease('10.0.0.10'));
    await store.leases.put(lease('10.0.0.11', { mac: mac(2), clientId: null, hostname: 'h' }));
    await store.leases.put(lease('10.0.0.10', { state: 'bound', machineId: 'm1', expiresAt: 1_700_000_360_000 }));
    const all = (await store.leases.all()).sort((a, b) => a.ip.localeCompare(b.ip));
    expect(all).toEqual([lease('10.0.0.10', { state: 'bound', machineId: 'm1', expiresAt: 1_700_000_360_000 }), lease('10.0.0.11', { mac: mac(2), clientId: null, hostname: 'h' })]);
    await store.leases.remove('10.0.0.10');
    await store.leases.remove('10.0.0.99');
    expect((await store.leases.all()).map((l) => l.ip)).toEqual(['10.0.0.11']);
  });

  it('survive closing and reopening the store', async () => {
    await store.leases.put(lease('10.0.0.20', { state: 'declined' }));
    await reopen();
    expect(await store.leases.all()).toEqual([lease('10.0.0.20', { state: 'declined' })]);
  });
});

describe('events', () => {
  const ev = (machineId: string | null, kind: string, extra: Partial<NewEvent> = {}): NewEvent => ({
    machineId,
    mac: null,
    source: 'http',
    kind,
    outcome: 'ok',
    message: kind,
    ...extra,
  });

  it('appends with increasing ids and a timestamp, and round-trips detail', async () => {
    const a = await store.events.append(ev('m1', 'one', { detail: { bytes: 5, nested: { ok: true } } }));
    const b = await store.events.append(ev('m1', 'two'));
    expect(b.id).toBeGreaterThan(a.id);
    expect(Number.isNaN(Date.parse(a.ts))).toBe(false);
    const listed = await store.events.listForMachine('m1');
    expect(listed).toEqual([a, b]);
    expect(listed[0]!.detail).toEqual({ bytes: 5, nested: { ok: true } });
    expect('detail' in listed[1]!).toBe(false);
  });

  it("lists only the machine's events, in order, after a cursor and up to a limit", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await store.events.append(ev('m1', `k${i}`))).id);
      await store.events.append(ev('m2', `other${i}`));
    }
    expect((await store.events.listForMachine('m1')).map((e) => e.kind)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
    expect((await store.events.listForMachine('m1', { afterId: ids[2]! })).map((e) => e.kind)).toEqual(['k3', 'k4', 'k5']);
    expect((await store.events.listForMachine('m1', { limit: 2 })).map((e) => e.kind)).toEqual(['k0', 'k1']);
    expect((await store.events.listForMachine('m1', { afterId: ids[1]!, limit: 2 })).map((e) => e.kind)).toEqual(['k2', 'k3']);
    expect(await store.events.listForMachine('m1', { afterId: ids[5]! })).toEqual([]);
    expect(await store.events.listForMachine('nobody')).toEqual([]);
  });

  it('adopts only unowned events recorded under a MAC', async () => {
    await store.events.append(ev(null, 'discover', { mac: mac(1), source: 'dhcp' }));
    await store.events.append(ev(null, 'tftp', { mac: mac(1), source: 'tftp' }));
    await store.events.append(ev(null, 'elsewhere', { mac: mac(2) }));
    await store.events.append(ev('m-old', 'owned', { mac: mac(1) }));
    expect(await store.events.adoptByMac(mac(1), 'm-new')).toBe(2);
    expect((await store.events.listForMachine('m-new')).map((e) => e.kind)).toEqual(['discover', 'tftp']);
    expect((await store.events.listForMachine('m-old')).map((e) => e.kind)).toEqual(['owned']);
    expect(await store.events.adoptByMac(mac(1), 'm-new')).toBe(0);
  });

  it('survive closing and reopening the store', async () => {
    const a = await store.events.append(ev('m1', 'persisted', { detail: { x: 1 } }));
    await reopen();
    expect(await store.events.listForMachine('m1')).toEqual([a]);
  });
});

describe('migrations', () => {
  function versions(): number[] {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[];
    } finally {
      db.close();
    }
  }

  it('creates the directory, records each applied version, and keeps data on reopen', async () => {
    const m = await store.machines.create(newMachine('persist', [mac(1)], { smbiosUuid: UUID }));
    await reopen();
    await reopen();
    expect(await store.machines.get(m.id)).toEqual(m);
    expect((await store.machines.findByUuid(UUID_SWAPPED))?.id).toBe(m.id);
    await store.close();
    closed = true;
    expect(versions()).toEqual(MIGRATIONS.map((x) => x.version));
  });

  it('applies a new migration once on the next open', async () => {
    const next: Migration = { version: MIGRATIONS.length + 1, name: 'extra table', sql: 'CREATE TABLE extra (id INTEGER PRIMARY KEY)' };
    await reopen([...MIGRATIONS, next]);
    await reopen([...MIGRATIONS, next]);
    await store.close();
    closed = true;
    expect(versions()).toEqual([...MIGRATIONS.map((x) => x.version), next.version]);
  });

  it('refuses a database whose schema is newer than this build knows', async () => {
    const future: Migration = { version: 99, name: 'from the future', sql: 'CREATE TABLE future (id INTEGER)' };
    await reopen([...MIGRATIONS, future]);
    await store.close();
    closed = true;
    expect(() => openSqliteStore(dbPath)).toThrow(/newer than this rackboot knows.*upgrade/);
  });

  it('rolls back a failing migration so it is neither half-applied nor recorded', async () => {
    const bad: Migration = { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half (id INTEGER); THIS IS NOT SQL;' };
    await store.close();
    closed = true;
    expect(() => openSqliteStore(dbPath, [...MIGRATIONS, bad])).toThrow();
    expect(versions()).toEqual(MIGRATIONS.map((x) => x.version));
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });
});
