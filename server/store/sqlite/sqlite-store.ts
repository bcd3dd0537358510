import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { swapUuidByteOrder } from '../../inventory/identity.js';
import type { Machine, NewMachine } from '../../inventory/machine.js';
import type { MachineState } from '../../lifecycle/states.js';
import type { Artifact, NewArtifact } from '../../artifacts/artifact.js';
import type { BmcRecord, NewBmcRecord } from '../../provisioning/bmc-record.js';
import {
  StoreError,
  type ApiRole,
  type ApiToken,
  type ApiTokenRepo,
  type ArtifactRepo,
  type AuditEntry,
  type AuditFilter,
  type AuditRepo,
  type NewAuditEntry,
  type BmcRepo,
  type EventRepo,
  type Lease,
  type LeaseRepo,
  type MachineFilter,
  type MachinePatch,
  type MachineRepo,
  type NewEvent,
  type Store,
  type StoredEvent,
} from '../types.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { SqliteClusters } from './sqlite-clusters.js';

type Db = Database.Database;

interface MachineRow {
  id: string;
  name: string;
  smbios_uuid: string | null;
  serial: string | null;
  arch: string | null;
  firmware: string | null;
  role: string | null;
  rack: string | null;
  profile: string | null;
  state: string;
  tags: string;
  network: string | null;
  disks: string;
  state_entered_at: string | null;
  state_reason: string | null;
  failed_from: string | null;
  bmc: string | null;
  maas: string | null;
  discovery: string | null;
  token_generation: number;
  created_at: string;
  updated_at: string;
  macs: string;
}

/** Opens (creating if needed) the SQLite store and brings its schema up to date. */
export function openSqliteStore(path: string, migrations: Migration[] = MIGRATIONS): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return {
    apiTokens: new SqliteApiTokens(db),
    audit: new SqliteAudit(db),
    clusters: new SqliteClusters(db),
    artifacts: new SqliteArtifacts(db),
    bmcs: new SqliteBmcs(db),
    machines: new SqliteMachines(db),
    leases: new SqliteLeases(db),
    events: new SqliteEvents(db),
    close: async () => {
      db.close();
    },
  };
}

export function migrate(db: Db, migrations: Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const newest = Math.max(0, ...applied);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (newest > known) throw new Error(`store schema version ${newest} is newer than this rackboot knows (${known}); upgrade rackboot`);
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    })();
  }
}

const MACHINE_SELECT = `SELECT m.*, (SELECT json_group_array(mac) FROM (SELECT mac FROM machine_macs WHERE machine_id = m.id ORDER BY position)) AS macs FROM machines m`;

function toMachine(r: MachineRow): Machine {
  return {
    id: r.id,
    name: r.name,
    macs: JSON.parse(r.macs) as string[],
    smbiosUuid: r.smbios_uuid,
    serial: r.serial,
    arch: r.arch as Machine['arch'],
    firmware: r.firmware as Machine['firmware'],
    role: r.role,
    rack: r.rack,
    tags: JSON.parse(r.tags) as string[],
    network: parseJson(r.network),
    disks: JSON.parse(r.disks) as Machine['disks'],
    profile: r.profile,
    bmc: parseJson(r.bmc),
    maas: parseJson(r.maas),
    state: r.state as MachineState,
    stateEnteredAt: r.state_entered_at ?? r.updated_at,
    stateReason: r.state_reason,
    failedFrom: r.failed_from as MachineState | null,
    discovery: parseJson(r.discovery),
    tokenGeneration: r.token_generation,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function parseJson<T>(s: string | null): T | null {
  return s === null ? null : (JSON.parse(s) as T);
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

class SqliteMachines implements MachineRepo {
  private readonly byId: Database.Statement;
  private readonly byName: Database.Statement;
  private readonly byMac: Database.Statement;
  private readonly byUuid: Database.Statement;

  constructor(private readonly db: Db) {
    this.byId = db.prepare(`${MACHINE_SELECT} WHERE m.id = ?`);
    this.byName = db.prepare(`${MACHINE_SELECT} WHERE m.name = ?`);
    this.byMac = db.prepare(`${MACHINE_SELECT} WHERE m.id = (SELECT machine_id FROM machine_macs WHERE mac = ?)`);
    this.byUuid = db.prepare(`${MACHINE_SELECT} WHERE m.smbios_uuid = ? OR m.smbios_uuid_swapped = ? LIMIT 1`);
  }

  async create(m: NewMachine): Promise<Machine> {
    return this.db.transaction(() => this.insert(m))();
  }

  async createMany(ms: NewMachine[]): Promise<Machine[]> {
    return this.db.transaction(() => ms.map((m) => this.insert(m)))();
  }

  async get(id: string): Promise<Machine | null> {
    return this.one(this.byId.get(id));
  }

  async findByName(name: string): Promise<Machine | null> {
    return this.one(this.byName.get(name));
  }

  async findByMac(mac: string): Promise<Machine | null> {
    return this.one(this.byMac.get(mac));
  }

  async findByUuid(uuid: string): Promise<Machine | null> {
    return this.one(this.byUuid.get(uuid, uuid));
  }

  async list(f: MachineFilter = {}): Promise<{ items: Machine[]; total: number }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state !== undefined) (where.push('m.state = ?'), args.push(f.state));
    if (f.rack !== undefined) (where.push('m.rack = ?'), args.push(f.rack));
    if (f.role !== undefined) (where.push('m.role = ?'), args.push(f.role));
    if (f.profile !== undefined) (where.push('m.profile = ?'), args.push(f.profile));
    if (f.bmcVendor !== undefined) (where.push("lower(json_extract(m.bmc, '$.vendor')) = lower(?)"), args.push(f.bmcVendor));
    if (f.tag !== undefined) (where.push('EXISTS (SELECT 1 FROM json_each(m.tags) WHERE value = ?)'), args.push(f.tag));
    if (f.clusterId !== undefined) (where.push('EXISTS (SELECT 1 FROM cluster_members x WHERE x.machine_id = m.id AND x.cluster_id = ?)'), args.push(f.clusterId));
    const clause = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
    const total = this.db.prepare(`SELECT count(*) FROM machines m${clause}`).pluck().get(...args) as number;
    const rows = this.db
      .prepare(`${MACHINE_SELECT}${clause} ORDER BY m.name LIMIT ? OFFSET ?`)
      .all(...args, f.limit ?? 100, f.offset ?? 0) as MachineRow[];
    return { items: rows.map(toMachine), total };
  }

  async update(id: string, patch: MachinePatch): Promise<Machine> {
    return this.db.transaction(() => {
      const cur = this.one(this.byId.get(id));
      if (cur === null) throw new StoreError('RB_NOT_FOUND', `no machine ${id}`);
      const next = { ...cur, ...patch };
      this.checkFree(next, id);
      this.db
        .prepare(
          `UPDATE machines SET name=?, smbios_uuid=?, smbios_uuid_swapped=?, serial=?, arch=?, firmware=?, role=?, rack=?, profile=?,
           state=?, tags=?, network=?, bmc=?, maas=?, discovery=?, disks=?, updated_at=? WHERE id=?`,
        )
        .run(...this.columns(next), new Date().toISOString(), id);
      if (patch.state !== undefined && patch.state !== cur.state) {
        this.db.prepare('UPDATE machines SET state_entered_at = ?, state_reason = NULL, failed_from = NULL WHERE id = ?').run(new Date().toISOString(), id);
      }
      if (patch.macs !== undefined) {
        this.db.prepare('DELETE FROM machine_macs WHERE machine_id = ?').run(id);
        this.insertMacs(id, patch.macs);
      }
      return this.one(this.byId.get(id))!;
    })();
  }

  async rotateToken(id: string): Promise<Machine> {
    const r = this.db.prepare('UPDATE machines SET token_generation = token_generation + 1, updated_at = ? WHERE id = ?').run(new Date().toISOString(), id);
    if (r.changes === 0) throw new StoreError('RB_NOT_FOUND', `no machine ${id}`);
    return this.one(this.byId.get(id))!;
  }

  async transition(id: string, from: readonly MachineState[], to: MachineState, reason: string | null): Promise<Machine | null> {
    const now = new Date().toISOString();
    // failed_from keeps the state being left: the right-hand side reads the row before the update.
    const r = this.db
      .prepare(
        `UPDATE machines SET state = ?, state_entered_at = ?, state_reason = ?, updated_at = ?, failed_from = CASE WHEN ? = 'failed' THEN state ELSE NULL END
         WHERE id = ? AND state IN (${from.map(() => '?').join(',')})`,
      )
      .run(to, now, reason, now, to, id, ...from);
    return r.changes === 0 ? null : this.one(this.byId.get(id));
  }

  async inStates(states: readonly MachineState[]): Promise<Machine[]> {
    const rows = this.db.prepare(`${MACHINE_SELECT} WHERE m.state IN (${states.map(() => '?').join(',')})`).all(...states) as MachineRow[];
    return rows.map(toMachine);
  }

  async delete(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM machines WHERE id = ?').run(id).changes > 0;
  }

  private insert(m: NewMachine): Machine {
    this.checkFree(m, null);
    const id = randomUUID();
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO machines (name, smbios_uuid, smbios_uuid_swapped, serial, arch, firmware, role, rack, profile, state, tags, network,
         bmc, maas, discovery, disks, id, created_at, updated_at, state_entered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .run(...this.columns(m), id, now, now, now);
    this.insertMacs(id, m.macs);
    return this.one(this.byId.get(id))!;
  }

  private columns(m: NewMachine): unknown[] {
    return [
      m.name,
      m.smbiosUuid,
      m.smbiosUuid === null ? null : swapUuidByteOrder(m.smbiosUuid),
      m.serial,
      m.arch,
      m.firmware,
      m.role,
      m.rack,
      m.profile,
      m.state,
      JSON.stringify(m.tags),
      json(m.network),
      json(m.bmc),
      json(m.maas),
      json(m.discovery),
      JSON.stringify(m.disks),
    ];
  }

  private insertMacs(id: string, macs: string[]): void {
    const ins = this.db.prepare('INSERT INTO machine_macs (mac, machine_id, position) VALUES (?, ?, ?)');
    macs.forEach((mac, i) => ins.run(mac, id, i));
  }

  /** Conflicts are reported with the owner's name, which is what an operator needs to fix an import. */
  private checkFree(m: Pick<NewMachine, 'name' | 'macs' | 'smbiosUuid'>, selfId: string | null): void {
    const named = this.db.prepare('SELECT id FROM machines WHERE name = ?').pluck().get(m.name) as string | undefined;
    if (named !== undefined && named !== selfId) throw new StoreError('RB_CONFLICT', `a machine named '${m.name}' already exists`);
    for (const mac of m.macs) {
      const owner = this.db.prepare('SELECT m.id, m.name FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = ?').get(mac) as
        | { id: string; name: string }
        | undefined;
      if (owner !== undefined && owner.id !== selfId) throw new StoreError('RB_CONFLICT', `MAC ${mac} already belongs to machine '${owner.name}'`);
    }
    if (m.smbiosUuid !== null) {
      const owner = this.db
        .prepare('SELECT id, name FROM machines WHERE smbios_uuid IN (?, ?) OR smbios_uuid_swapped = ?')
        .get(m.smbiosUuid, swapUuidByteOrder(m.smbiosUuid), m.smbiosUuid) as { id: string; name: string } | undefined;
      if (owner !== undefined && owner.id !== selfId) throw new StoreError('RB_CONFLICT', `UUID ${m.smbiosUuid} already belongs to machine '${owner.name}'`);
    }
  }

  private one(row: unknown): Machine | null {
    return row === undefined ? null : toMachine(row as MachineRow);
  }
}

interface LeaseRow {
  ip: string;
  mac: string;
  client_id: string | null;
  machine_id: string | null;
  state: string;
  expires_at: number;
  hostname: string | null;
}

class SqliteLeases implements LeaseRepo {
  private readonly upsert: Database.Statement;
  private readonly del: Database.Statement;

  constructor(private readonly db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO leases (ip, mac, client_id, machine_id, state, expires_at, hostname) VALUES (?,?,?,?,?,?,?)
       ON CONFLICT(ip) DO UPDATE SET mac=excluded.mac, client_id=excluded.client_id, machine_id=excluded.machine_id,
       state=excluded.state, expires_at=excluded.expires_at, hostname=excluded.hostname`,
    );
    this.del = db.prepare('DELETE FROM leases WHERE ip = ?');
  }

  async all(): Promise<Lease[]> {
    return (this.db.prepare('SELECT * FROM leases').all() as LeaseRow[]).map((r) => ({
      ip: r.ip,
      mac: r.mac,
      clientId: r.client_id,
      machineId: r.machine_id,
      state: r.state as Lease['state'],
      expiresAt: r.expires_at,
      hostname: r.hostname,
    }));
  }

  async put(l: Lease): Promise<void> {
    this.upsert.run(l.ip, l.mac, l.clientId, l.machineId, l.state, l.expiresAt, l.hostname);
  }

  async remove(ip: string): Promise<void> {
    this.del.run(ip);
  }
}

interface EventRow {
  id: number;
  machine_id: string | null;
  mac: string | null;
  ts: string;
  source: string;
  kind: string;
  outcome: string;
  message: string;
  detail: string | null;
}

class SqliteEvents implements EventRepo {
  private readonly ins: Database.Statement;

  constructor(private readonly db: Db) {
    this.ins = db.prepare('INSERT INTO events (machine_id, mac, ts, source, kind, outcome, message, detail) VALUES (?,?,?,?,?,?,?,?)');
  }

  async append(ev: NewEvent): Promise<StoredEvent> {
    const ts = new Date().toISOString();
    const r = this.ins.run(ev.machineId, ev.mac, ts, ev.source, ev.kind, ev.outcome, ev.message, json(ev.detail));
    return { ...ev, id: Number(r.lastInsertRowid), ts };
  }

  async listForMachine(machineId: string, opts: { afterId?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    const rows = this.db
      .prepare('SELECT * FROM events WHERE machine_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(machineId, opts.afterId ?? 0, Math.min(opts.limit ?? 500, 5000)) as EventRow[];
    return rows.map(toEvent);
  }

  async listAfter(afterId: number, limit: number): Promise<StoredEvent[]> {
    return (this.db.prepare('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as EventRow[]).map(toEvent);
  }

  async lastId(): Promise<number> {
    return this.db.prepare('SELECT coalesce(max(id), 0) FROM events').pluck().get() as number;
  }

  async adoptByMac(mac: string, machineId: string): Promise<number> {
    return this.db.prepare('UPDATE events SET machine_id = ? WHERE mac = ? AND machine_id IS NULL').run(machineId, mac).changes;
  }

  async pruneBefore(before: string, limit: number): Promise<number> {
    // Ids grow with time: the first id inside the window bounds the delete, found by a walk over the
    // old rows only (no index on ts needed), so the recent part of the table is never scanned.
    const first = this.db.prepare('SELECT id FROM events WHERE ts >= ? ORDER BY id LIMIT 1').pluck().get(before) as number | undefined;
    const bound = first ?? Number.MAX_SAFE_INTEGER;
    return this.db
      .prepare("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < ? AND source <> 'lifecycle' ORDER BY id LIMIT ?)")
      .run(bound, limit).changes;
  }
}

function toEvent(r: EventRow): StoredEvent {
  return {
    id: r.id,
    machineId: r.machine_id,
    mac: r.mac,
    ts: r.ts,
    source: r.source as StoredEvent['source'],
    kind: r.kind,
    outcome: r.outcome as StoredEvent['outcome'],
    message: r.message,
    ...(r.detail === null ? {} : { detail: JSON.parse(r.detail) as Record<string, unknown> }),
  };
}

interface ArtifactRow {
  id: string;
  name: string;
  kind: string;
  sha256: string;
  size: number;
  source: string;
  meta: string;
  created_at: string;
}

class SqliteArtifacts implements ArtifactRepo {
  constructor(private readonly db: Db) {}

  async create<A extends NewArtifact>(a: A): Promise<A & { id: string; createdAt: string }> {
    const id = randomUUID();
    const createdAt = new Date().toISOString();
    try {
      this.db
        .prepare('INSERT INTO artifacts (id, name, kind, sha256, size, source, meta, created_at) VALUES (?,?,?,?,?,?,?,?)')
        .run(id, a.name, a.kind, a.sha256, a.size, a.source, JSON.stringify(a.meta), createdAt);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new StoreError('RB_CONFLICT', `an artifact named '${a.name}' already exists`);
      throw e;
    }
    return { ...a, id, createdAt };
  }

  async get(id: string): Promise<Artifact | null> {
    return this.one(this.db.prepare('SELECT * FROM artifacts WHERE id = ?').get(id));
  }

  async findByName(name: string): Promise<Artifact | null> {
    return this.one(this.db.prepare('SELECT * FROM artifacts WHERE name = ?').get(name));
  }

  async list(): Promise<Artifact[]> {
    return (this.db.prepare('SELECT * FROM artifacts ORDER BY created_at').all() as ArtifactRow[]).map((r) => this.one(r)!);
  }

  async delete(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM artifacts WHERE id = ?').run(id).changes > 0;
  }

  private one(row: unknown): Artifact | null {
    if (row === undefined) return null;
    const r = row as ArtifactRow;
    return { id: r.id, name: r.name, kind: r.kind, sha256: r.sha256, size: r.size, source: r.source, meta: JSON.parse(r.meta) as unknown, createdAt: r.created_at } as Artifact;
  }
}

interface ApiTokenRow {
  id: string;
  name: string;
  role: string;
  created_at: string;
  revoked_at: string | null;
}

class SqliteApiTokens implements ApiTokenRepo {
  constructor(private readonly db: Db) {}

  async create(t: { name: string; role: ApiRole; secretSha256: string }): Promise<ApiToken> {
    const token: ApiToken = { id: randomUUID(), name: t.name, role: t.role, createdAt: new Date().toISOString(), revokedAt: null };
    try {
      this.db.prepare('INSERT INTO api_tokens (id, name, role, secret_sha256, created_at) VALUES (?,?,?,?,?)').run(token.id, t.name, t.role, t.secretSha256, token.createdAt);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new StoreError('RB_CONFLICT', `a token named '${t.name}' already exists`);
      throw e;
    }
    return token;
  }

  async findBySecretSha256(sha256: string): Promise<ApiToken | null> {
    const r = this.db.prepare('SELECT * FROM api_tokens WHERE secret_sha256 = ? AND revoked_at IS NULL').get(sha256) as ApiTokenRow | undefined;
    return r === undefined ? null : toApiToken(r);
  }

  async list(): Promise<ApiToken[]> {
    return (this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, name').all() as ApiTokenRow[]).map(toApiToken);
  }

  async revoke(name: string): Promise<ApiToken | null> {
    const r = this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL RETURNING *').get(new Date().toISOString(), name) as ApiTokenRow | undefined;
    return r === undefined ? null : toApiToken(r);
  }
}

function toApiToken(r: ApiTokenRow): ApiToken {
  return { id: r.id, name: r.name, role: r.role as ApiRole, createdAt: r.created_at, revokedAt: r.revoked_at };
}

interface AuditRow {
  id: number;
  ts: string;
  actor: string;
  role: string | null;
  action: string;
  target: string | null;
  status: number | null;
  outcome: string;
  detail: string | null;
}

class SqliteAudit implements AuditRepo {
  constructor(private readonly db: Db) {}

  async append(e: NewAuditEntry): Promise<AuditEntry> {
    const ts = new Date().toISOString();
    const r = this.db
      .prepare('INSERT INTO audit_log (ts, actor, role, action, target, status, outcome, detail) VALUES (?,?,?,?,?,?,?,?)')
      .run(ts, e.actor, e.role, e.action, e.target, e.status, e.outcome, json(e.detail));
    return { ...e, id: Number(r.lastInsertRowid), ts };
  }

  async list(f: AuditFilter): Promise<{ items: AuditEntry[]; total: number }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.actor !== undefined) (where.push('actor = ?'), args.push(f.actor));
    if (f.target !== undefined) (where.push('target = ?'), args.push(f.target));
    const clause = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
    const total = this.db.prepare(`SELECT count(*) FROM audit_log${clause}`).pluck().get(...args) as number;
    const rows = this.db.prepare(`SELECT * FROM audit_log${clause} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...args, f.limit, f.offset) as AuditRow[];
    return {
      total,
      items: rows.map((r) => ({
        id: r.id,
        ts: r.ts,
        actor: r.actor,
        role: r.role as ApiRole | null,
        action: r.action,
        target: r.target,
        status: r.status,
        outcome: r.outcome as AuditEntry['outcome'],
        ...(r.detail === null ? {} : { detail: JSON.parse(r.detail) as Record<string, unknown> }),
      })),
    };
  }
}

interface BmcRow {
  machine_id: string;
  address: string;
  username: string;
  sealed_password: string;
  system_id: string;
  vendor: string;
  trust: string;
  hardware: string;
  created_at: string;
  updated_at: string;
}

class SqliteBmcs implements BmcRepo {
  constructor(private readonly db: Db) {}

  async put(r: NewBmcRecord): Promise<BmcRecord> {
    const now = new Date().toISOString();
    try {
      this.db
        .prepare(
          `INSERT INTO bmcs (machine_id, address, username, sealed_password, system_id, vendor, trust, hardware, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT(machine_id) DO UPDATE SET address = excluded.address, username = excluded.username, sealed_password = excluded.sealed_password,
             system_id = excluded.system_id, vendor = excluded.vendor, trust = excluded.trust, hardware = excluded.hardware, updated_at = excluded.updated_at`,
        )
        .run(r.machineId, r.address, r.username, r.sealedPassword, r.systemId, JSON.stringify(r.vendor), JSON.stringify(r.trust), JSON.stringify(r.hardware), now, now);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreError('RB_NOT_FOUND', `no machine ${r.machineId}`);
      throw e;
    }
    return (await this.get(r.machineId))!;
  }

  async get(machineId: string): Promise<BmcRecord | null> {
    const row = this.db.prepare('SELECT * FROM bmcs WHERE machine_id = ?').get(machineId) as BmcRow | undefined;
    return row === undefined ? null : toBmc(row);
  }

  async list(): Promise<BmcRecord[]> {
    return (this.db.prepare('SELECT * FROM bmcs ORDER BY address, system_id').all() as BmcRow[]).map(toBmc);
  }

  async delete(machineId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM bmcs WHERE machine_id = ?').run(machineId).changes > 0;
  }
}

function toBmc(r: BmcRow): BmcRecord {
  return {
    machineId: r.machine_id,
    address: r.address,
    username: r.username,
    sealedPassword: r.sealed_password,
    systemId: r.system_id,
    vendor: JSON.parse(r.vendor) as BmcRecord['vendor'],
    trust: JSON.parse(r.trust) as BmcRecord['trust'],
    hardware: JSON.parse(r.hardware) as BmcRecord['hardware'],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
