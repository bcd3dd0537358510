// One machine's MAAS deployment, start to end: allocate, deploy with the machine's user-data, then
// follow MAAS's status and events to Deployed or Failed deployment. Each machine runs its own task;
// nothing here holds a lock across MAAS calls, so a slow or unreachable MAAS only delays this machine.

import type { Logger } from 'pino';
import {
  MAAS_STATUS,
  allocateMachine,
  deployMachine,
  listMachines,
  describeStatus,
  queryEvents,
  readMachine,
  tailEvents,
  type MaasClient,
  type MaasError,
  type MaasEvent,
  type MaasMachine,
} from '../../../maas/index.js';
import type { Machine } from '../../inventory/machine.js';
import type { Lifecycle } from '../../lifecycle/lifecycle.js';
import type { MachineRepo } from '../../store/types.js';
import type { Timeline } from '../../timeline/recorder.js';
import { isTransient } from './connection.js';

export interface DeployTaskDeps {
  client: MaasClient;
  machines: MachineRepo;
  lifecycle: Lifecycle;
  timeline: Timeline;
  log: Logger;
  agentName: string;
  pollMs: number;
  deadlineMs: number;
  /** The MAAS user the API key belongs to (null when MAAS cannot tell now). */
  maasUser: () => Promise<string | null>;
}

export interface DeployPlan {
  /** `custom/<name>` of the uploaded appliance image. */
  distroSeries: string;
  /** The machine's rendered cloud-config (sent base64-encoded). */
  userData: string;
  /** Allocation constraints when the machine has no system_id yet. */
  pool?: string | undefined;
  tags?: string[];
}

/** MAAS event types that mean curtin is writing the disk: the install has started. */
const INSTALLING_EVENTS = new Set(['Configuring storage', 'Installing OS', 'Configuring OS', 'Rebooting']);
const LEVEL_OUTCOME: Record<string, 'error' | 'info'> = { ERROR: 'error', CRITICAL: 'error' };

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class DeployTask {
  private lastEventId = 0;
  private unreachableSince: number | null = null;

  constructor(
    private readonly d: DeployTaskDeps,
    private machine: Machine,
    private readonly plan: DeployPlan,
    private readonly signal: AbortSignal,
  ) {}

  private record(kind: string, outcome: 'ok' | 'error' | 'info', message: string, detail: Record<string, unknown> = {}): Promise<void> {
    return this.d.timeline.record({ machineId: this.machine.id, mac: null, source: 'maas', kind, outcome, message, detail });
  }

  private async fail(reason: string): Promise<void> {
    const r = await this.d.lifecycle.fail(this.machine.id, reason);
    if (!r.ok) this.d.log.warn({ machineId: this.machine.id, reason, why: r.message }, 'could not mark the machine failed');
  }

  async run(): Promise<void> {
    const started = Date.now();
    // Events from here on belong to this deployment (allocation included when the machine is known).
    const known = this.machine.maas?.systemId;
    if (known !== undefined) await this.startCursor(known);
    const systemId = await this.allocate();
    if (systemId === null || this.signal.aborted) return;
    if (known === undefined) await this.startCursor(systemId);
    if (!(await this.deploy(systemId))) return;
    await this.follow(systemId, started);
  }

  private async startCursor(systemId: string): Promise<void> {
    const cursor = await queryEvents(this.d.client, { id: systemId, level: 'DEBUG', limit: 1 });
    this.lastEventId = cursor.ok ? (cursor.value.events[0]?.id ?? 0) : 0;
  }

  /** Claims the MAAS machine; returns its system_id, or null after marking the machine failed. */
  private async allocate(): Promise<string | null> {
    const known = this.machine.maas?.systemId;
    if (known !== undefined) {
      const cur = await this.until(() => readMachine(this.d.client, known), 'read the machine');
      if (cur === null) return null;
      // Already ours from an earlier attempt (rackboot restarted, or the answer to allocate was lost).
      if (cur.status === MAAS_STATUS.ALLOCATED && cur.owner === (await this.d.maasUser())) return this.allocated(known, cur.hostname, 'earlier allocation');
    }
    const constraints = known !== undefined ? { system_id: known } : { ...(this.plan.pool !== undefined ? { pool: this.plan.pool } : {}), ...(this.plan.tags !== undefined && this.plan.tags.length > 0 ? { tags: this.plan.tags } : {}) };
    for (let attempt = 1; ; attempt++) {
      const r = await allocateMachine(this.d.client, { ...constraints, agent_name: this.d.agentName, comment: `rackboot: ${this.machine.name}` });
      if (r.ok) return this.allocated(r.value.system_id, r.value.hostname, 'allocate');
      if (isTransient(r.error) && attempt < 5 && !this.signal.aborted) {
        // The answer may be lost while MAAS did allocate: look before asking again (a second
        // allocate by pool or tags would claim a second machine).
        await this.unreachable(r.error);
        await sleep(this.d.pollMs * attempt, this.signal);
        const mine = await this.ownAllocation(known);
        if (mine !== null) return this.allocated(mine.system_id, mine.hostname, 'allocation found after a lost answer');
        continue;
      }
      if (this.signal.aborted) return null;
      await this.record('maas.allocate-failed', 'error', `MAAS allocate failed: ${r.error.message}`, { code: r.error.code, constraints });
      await this.fail(`MAAS allocate failed: ${r.error.message}`);
      return null;
    }
  }

  private async allocated(systemId: string, hostname: string, how: string): Promise<string> {
    if (this.machine.maas?.systemId !== systemId) {
      this.machine = await this.d.machines.update(this.machine.id, { maas: { ...(this.machine.maas ?? {}), systemId } });
    }
    await this.reachable();
    await this.record('maas.allocated', 'ok', `MAAS allocated ${systemId} (${hostname})`, { systemId, how });
    return systemId;
  }

  /** A machine MAAS allocated to us for this request: the known one, or one of ours no rackboot machine is linked to. */
  private async ownAllocation(known: string | undefined): Promise<MaasMachine | null> {
    const user = await this.d.maasUser();
    if (user === null) return null;
    if (known !== undefined) {
      const cur = await readMachine(this.d.client, known);
      return cur.ok && cur.value.status === MAAS_STATUS.ALLOCATED && cur.value.owner === user ? cur.value : null;
    }
    const ours = await listMachines(this.d.client, { agent_name: this.d.agentName, owner: user, status: 'allocated' });
    if (!ours.ok) return null;
    const linked = new Set((await this.d.machines.list({ limit: 1_000_000 })).items.map((m) => m.maas?.systemId).filter((x) => x !== undefined));
    return ours.value.find((mm) => !linked.has(mm.system_id)) ?? null;
  }

  /** Sends deploy; a lost answer is resolved by re-reading what MAAS did. */
  private async deploy(systemId: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const r = await deployMachine(this.d.client, systemId, { distro_series: this.plan.distroSeries, userData: this.plan.userData, agent_name: this.d.agentName, comment: `rackboot: ${this.machine.name}` });
      let deploying = r.ok;
      if (!r.ok && isTransient(r.error)) {
        const cur = await readMachine(this.d.client, systemId);
        deploying = cur.ok && cur.value.status === MAAS_STATUS.DEPLOYING;
        if (!deploying && attempt < 5 && !this.signal.aborted) {
          await sleep(this.d.pollMs * attempt, this.signal);
          continue;
        }
      }
      if (!deploying) {
        const e = r.ok ? null : r.error;
        const why = e === null ? 'MAAS did not start the deployment' : e.message;
        await this.record('maas.deploy-failed', 'error', `MAAS refused deploy: ${why}`, e === null ? {} : { code: e.code, ...(e.machineStatus ? { maasStatus: e.machineStatus.name } : {}) });
        await this.fail(`MAAS refused deploy: ${why}`);
        return false;
      }
      await this.record('maas.deploy', 'ok', `MAAS deploying ${systemId} with ${this.plan.distroSeries}`, { systemId, distroSeries: this.plan.distroSeries, userDataBytes: Buffer.byteLength(this.plan.userData) });
      const moved = await this.d.lifecycle.move(this.machine.id, 'booting-installer', `MAAS is deploying ${this.plan.distroSeries}`, { systemId });
      if (!moved.ok) this.d.log.warn({ machineId: this.machine.id, why: moved.message }, 'lifecycle did not move to booting-installer');
      return true;
    }
  }

  private async follow(systemId: string, started: number): Promise<void> {
    while (!this.signal.aborted) {
      const mine = await this.d.machines.get(this.machine.id);
      // Re-provisioned, failed by the watchdog or deleted meanwhile: this deployment is no longer followed.
      if (mine === null || !['booting-installer', 'installing', 'installed'].includes(mine.state)) return;
      await this.pullEvents(systemId);
      const cur = await readMachine(this.d.client, systemId);
      if (!cur.ok) {
        if (cur.error.code === 'RB_MAAS_NOT_FOUND') return this.fail(`MAAS no longer has machine ${systemId}`);
        await this.unreachable(cur.error);
      } else {
        await this.reachable();
        const done = await this.onStatus(cur.value, mine.state);
        if (done) return;
      }
      if (Date.now() - started > this.d.deadlineMs) {
        return this.fail(`MAAS did not report Deployed within ${Math.round(this.d.deadlineMs / 1000)} s`);
      }
      await sleep(this.d.pollMs, this.signal);
    }
  }

  /** True when following can stop. */
  private async onStatus(mm: MaasMachine, state: string): Promise<boolean> {
    const st = describeStatus(mm.status, mm.status_name);
    if (mm.status === MAAS_STATUS.DEPLOYING) return false;
    if (mm.status === MAAS_STATUS.DEPLOYED) {
      await this.pullEvents(mm.system_id);
      if (state === 'booting-installer') await this.d.lifecycle.move(this.machine.id, 'installing', 'MAAS reports the image written', { systemId: mm.system_id });
      await this.record('maas.deployed', 'ok', `MAAS reports ${mm.system_id} Deployed; waiting for the appliance's install-done callback`, { systemId: mm.system_id, distroSeries: mm.distro_series ?? null });
      return true;
    }
    if (mm.status === MAAS_STATUS.FAILED_DEPLOYMENT || mm.status === MAAS_STATUS.BROKEN || mm.status === MAAS_STATUS.READY || mm.status === MAAS_STATUS.ALLOCATED) {
      await this.pullEvents(mm.system_id);
      const why = (mm.error_description ?? '') !== '' ? mm.error_description : (mm.status_message ?? st.name);
      await this.fail(`MAAS deployment ended in '${st.name}': ${why}`);
      return true;
    }
    return false;
  }

  /** Copies MAAS's new events for the machine into its timeline, and moves to installing when curtin writes the disk. */
  private async pullEvents(systemId: string): Promise<void> {
    const r = await tailEvents(this.d.client, { id: systemId, level: 'DEBUG' }, this.lastEventId, { pageSize: 100, maxPages: 5 });
    if (!r.ok) return;
    this.lastEventId = r.value.lastId;
    let installing: MaasEvent | undefined;
    for (const e of r.value.events) {
      await this.record('maas.event', LEVEL_OUTCOME[e.level] ?? 'info', e.description !== '' ? `${e.type} - ${e.description}` : e.type, { maasEventId: e.id, level: e.level, type: e.type, created: e.created });
      if (installing === undefined && INSTALLING_EVENTS.has(e.type)) installing = e;
    }
    if (installing !== undefined) {
      const m = await this.d.machines.get(this.machine.id);
      if (m?.state === 'booting-installer') await this.d.lifecycle.move(this.machine.id, 'installing', `MAAS reports '${installing.type}'`, { systemId, maasEventId: installing.id });
    }
  }

  private async unreachable(e: MaasError): Promise<void> {
    if (this.unreachableSince !== null) return;
    this.unreachableSince = Date.now();
    await this.record('maas.unreachable', 'error', `MAAS did not answer; still following: ${e.message}`, { code: e.code });
  }

  private async reachable(): Promise<void> {
    if (this.unreachableSince === null) return;
    const s = Math.round((Date.now() - this.unreachableSince) / 1000);
    this.unreachableSince = null;
    await this.record('maas.reachable', 'info', `MAAS answers again after ${s} s`);
  }

  /** Retries a read through MAAS outages until the deadline; null after marking the machine failed. */
  private async until(call: () => Promise<{ ok: true; value: MaasMachine } | { ok: false; error: MaasError }>, what: string): Promise<MaasMachine | null> {
    const started = Date.now();
    for (;;) {
      const r = await call();
      if (r.ok) {
        await this.reachable();
        return r.value;
      }
      if (this.signal.aborted) return null;
      if (!isTransient(r.error) || Date.now() - started > this.d.deadlineMs) {
        await this.fail(`MAAS: could not ${what}: ${r.error.message}`);
        return null;
      }
      await this.unreachable(r.error);
      await sleep(this.d.pollMs, this.signal);
    }
  }
}
