import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Cluster, ClusterEvent, ClusterRole, ClusterState, ClusterStep, NewCluster } from '../../enrollment/cluster.js';
import { StoreError, type ClusterFilter, type ClusterRepo } from '../types.js';

interface ClusterRow {
  id: string;
  name: string;
  spec: string;
  state: string;
  state_reason: string | null;
  state_entered_at: string;
  leader_machine_id: string | null;
  has_kubeconfig: number;
  created_at: string;
  updated_at: string;
  members: string;
}

interface StepRow {
  cluster_id: string;
  step: string;
  machine_id: string;
  status: string;
  attempts: number;
  detail: string;
  started_at: string;
  finished_at: string | null;
}

const SELECT = `SELECT c.id, c.name, c.spec, c.state, c.state_reason, c.state_entered_at, c.leader_machine_id,
  c.kubeconfig_sealed IS NOT NULL AS has_kubeconfig, c.created_at, c.updated_at,
  (SELECT json_group_array(json_object('machineId', machine_id, 'role', role)) FROM
     (SELECT machine_id, role FROM cluster_members WHERE cluster_id = c.id ORDER BY position)) AS members
  FROM clusters c`;

function toCluster(r: ClusterRow): Cluster {
  return {
    id: r.id,
    name: r.name,
    spec: JSON.parse(r.spec) as Cluster['spec'],
    members: JSON.parse(r.members) as { machineId: string; role: ClusterRole }[],
    state: r.state as ClusterState,
    stateReason: r.state_reason,
    stateEnteredAt: r.state_entered_at,
    leaderMachineId: r.leader_machine_id,
    hasKubeconfig: r.has_kubeconfig === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

interface EventRow {
  id: number;
  cluster_id: string;
  ts: string;
  kind: string;
  outcome: string;
  message: string;
  detail: string | null;
}

function toEvent(r: EventRow): ClusterEvent {
  return {
    id: r.id,
    clusterId: r.cluster_id,
    ts: r.ts,
    kind: r.kind,
    outcome: r.outcome as ClusterEvent['outcome'],
    message: r.message,
    ...(r.detail === null ? {} : { detail: JSON.parse(r.detail) as Record<string, unknown> }),
  };
}

function toStep(r: StepRow): ClusterStep {
  return {
    clusterId: r.cluster_id,
    step: r.step,
    machineId: r.machine_id,
    status: r.status as ClusterStep['status'],
    attempts: r.attempts,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export class SqliteClusters implements ClusterRepo {
  constructor(private readonly db: Database.Database) {}

  async create(c: NewCluster): Promise<Cluster> {
    const id = randomUUID();
    const now = new Date().toISOString();
    this.db.transaction(() => {
      try {
        this.db
          .prepare('INSERT INTO clusters (id, name, spec, state, state_reason, state_entered_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)')
          .run(id, c.name, JSON.stringify(c.spec), 'forming', null, now, now, now);
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new StoreError('RB_CONFLICT', `a cluster named '${c.name}' already exists`);
        }
        throw e;
      }
      const ins = this.db.prepare('INSERT INTO cluster_members (machine_id, cluster_id, role, position) VALUES (?,?,?,?)');
      c.members.forEach((m, i) => {
        try {
          ins.run(m.machineId, id, m.role, i);
        } catch (e) {
          if (String((e as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) throw new StoreError('RB_CONFLICT', `machine ${m.machineId} already belongs to a cluster`);
          throw e;
        }
      });
    })();
    return (await this.get(id))!;
  }

  async get(id: string): Promise<Cluster | null> {
    const r = this.db.prepare(`${SELECT} WHERE c.id = ?`).get(id) as ClusterRow | undefined;
    return r === undefined ? null : toCluster(r);
  }

  async findByName(name: string): Promise<Cluster | null> {
    const r = this.db.prepare(`${SELECT} WHERE c.name = ?`).get(name) as ClusterRow | undefined;
    return r === undefined ? null : toCluster(r);
  }

  async list(f: ClusterFilter = {}): Promise<{ items: Cluster[]; total: number }> {
    const clause = f.state === undefined ? '' : ' WHERE c.state = ?';
    const args = f.state === undefined ? [] : [f.state];
    const total = this.db.prepare(`SELECT count(*) FROM clusters c${clause}`).pluck().get(...args) as number;
    const rows = this.db.prepare(`${SELECT}${clause} ORDER BY c.created_at, c.name LIMIT ? OFFSET ?`).all(...args, f.limit ?? 100, f.offset ?? 0) as ClusterRow[];
    return { items: rows.map(toCluster), total };
  }

  async inState(state: ClusterState): Promise<Cluster[]> {
    return (this.db.prepare(`${SELECT} WHERE c.state = ? ORDER BY c.created_at`).all(state) as ClusterRow[]).map(toCluster);
  }

  async transition(id: string, from: readonly ClusterState[], to: ClusterState, reason: string | null): Promise<Cluster | null> {
    const now = new Date().toISOString();
    const marks = from.map(() => '?').join(',');
    const r = this.db
      .prepare(`UPDATE clusters SET state = ?, state_reason = ?, state_entered_at = ?, updated_at = ? WHERE id = ? AND state IN (${marks})`)
      .run(to, reason, now, now, id, ...from);
    return r.changes === 0 ? null : this.get(id);
  }

  async reopen(id: string): Promise<Cluster | null> {
    const now = new Date().toISOString();
    const reopened = this.db.transaction(() => {
      const r = this.db.prepare("UPDATE clusters SET state = 'forming', state_reason = NULL, state_entered_at = ?, updated_at = ? WHERE id = ? AND state = 'failed'").run(now, now, id);
      if (r.changes === 0) return false;
      this.db.prepare("UPDATE cluster_steps SET started_at = ? WHERE cluster_id = ? AND status <> 'done'").run(now, id);
      return true;
    })();
    return reopened ? this.get(id) : null;
  }

  async deleteEnded(id: string): Promise<boolean> {
    return this.db.prepare("DELETE FROM clusters WHERE id = ? AND state <> 'forming'").run(id).changes > 0;
  }

  async setLeader(id: string, machineId: string): Promise<void> {
    this.db.prepare('UPDATE clusters SET leader_machine_id = ?, updated_at = ? WHERE id = ?').run(machineId, new Date().toISOString(), id);
  }

  async setSealedKubeconfig(id: string, sealed: string): Promise<void> {
    this.db.prepare('UPDATE clusters SET kubeconfig_sealed = ?, updated_at = ? WHERE id = ?').run(sealed, new Date().toISOString(), id);
  }

  async sealedKubeconfig(id: string): Promise<string | null> {
    const v = this.db.prepare('SELECT kubeconfig_sealed FROM clusters WHERE id = ?').pluck().get(id) as string | null | undefined;
    return v ?? null;
  }

  async step(id: string, step: string, machineId = ''): Promise<ClusterStep | null> {
    const r = this.db.prepare('SELECT * FROM cluster_steps WHERE cluster_id = ? AND step = ? AND machine_id = ?').get(id, step, machineId) as StepRow | undefined;
    return r === undefined ? null : toStep(r);
  }

  async steps(id: string): Promise<ClusterStep[]> {
    return (this.db.prepare('SELECT * FROM cluster_steps WHERE cluster_id = ? ORDER BY started_at, step, machine_id').all(id) as StepRow[]).map(toStep);
  }

  async beginStep(id: string, step: string, machineId: string, detail: Record<string, unknown> = {}): Promise<ClusterStep> {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO cluster_steps (cluster_id, step, machine_id, status, attempts, detail, started_at) VALUES (?,?,?,'started',1,?,?)
         ON CONFLICT(cluster_id, step, machine_id) DO UPDATE SET status = 'started', attempts = attempts + 1,
           detail = json_patch(detail, excluded.detail), finished_at = NULL`,
      )
      .run(id, step, machineId, JSON.stringify(detail), now);
    return (await this.step(id, step, machineId))!;
  }

  async finishStep(id: string, step: string, machineId: string, detail: Record<string, unknown> = {}): Promise<ClusterStep> {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO cluster_steps (cluster_id, step, machine_id, status, attempts, detail, started_at, finished_at) VALUES (?,?,?,'done',0,?,?,?)
         ON CONFLICT(cluster_id, step, machine_id) DO UPDATE SET status = 'done', detail = json_patch(detail, excluded.detail), finished_at = excluded.finished_at`,
      )
      .run(id, step, machineId, JSON.stringify(detail), now, now);
    return (await this.step(id, step, machineId))!;
  }

  async appendEvent(ev: Omit<ClusterEvent, 'id' | 'ts'>): Promise<ClusterEvent> {
    const ts = new Date().toISOString();
    const r = this.db
      .prepare('INSERT INTO cluster_events (cluster_id, ts, kind, outcome, message, detail) VALUES (?,?,?,?,?,?)')
      .run(ev.clusterId, ts, ev.kind, ev.outcome, ev.message, ev.detail === undefined ? null : JSON.stringify(ev.detail));
    return { ...ev, id: Number(r.lastInsertRowid), ts };
  }

  async events(id: string, opts: { afterId?: number; limit?: number } = {}): Promise<ClusterEvent[]> {
    const rows = this.db
      .prepare('SELECT * FROM cluster_events WHERE cluster_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(id, opts.afterId ?? 0, Math.min(opts.limit ?? 500, 5000)) as EventRow[];
    return rows.map(toEvent);
  }

  async eventsAfter(afterId: number, limit: number): Promise<ClusterEvent[]> {
    return (this.db.prepare('SELECT * FROM cluster_events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as EventRow[]).map(toEvent);
  }


  async lastEventId(): Promise<number> {
    return this.db.prepare('SELECT coalesce(max(id), 0) FROM cluster_events').pluck().get() as number;
  }

  async pin(machineId: string): Promise<string | null> {
    return (this.db.prepare('SELECT fingerprint FROM appliance_pins WHERE machine_id = ?').pluck().get(machineId) as string | undefined) ?? null;
  }

  async setPin(machineId: string, fingerprint: string): Promise<void> {
    this.db.prepare('INSERT INTO appliance_pins (machine_id, fingerprint, pinned_at) VALUES (?,?,?) ON CONFLICT(machine_id) DO NOTHING').run(machineId, fingerprint, new Date().toISOString());
  }
}
