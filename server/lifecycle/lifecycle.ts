import type { Logger } from 'pino';
import type { Machine } from '../inventory/machine.js';
import type { EventRepo, MachineRepo } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import { STAGE_LIMITS, type StageTimeouts } from './stage-limits.js';
import { hasInstalled, type MachineState } from './states.js';

/** Forward moves allowed from each state; `failed` is reachable from anywhere, `provisioning` by operator action. */
const NEXT: Record<MachineState, readonly MachineState[]> = {
  discovered: ['ready', 'booting-installer'],
  ready: ['booting-installer'],
  provisioning: ['booting-installer'],
  'booting-installer': ['installing'],
  installing: ['installed'],
  installed: ['host-ready'],
  'host-ready': ['linked'],
  linked: ['content-synced'],
  'content-synced': ['cluster-member'],
  'cluster-member': ['node-ready'],
  'node-ready': ['enrolled'],
  enrolled: [],
  failed: [],
};

/** Machines of clusters being formed, each with the time (ms) its cluster's formation started. */
export type EnrollmentClock = () => Promise<Map<string, number>>;

/** Told after a machine has been marked failed (by anyone: watchdog, formation, operator); awaited. */
export type FailureListener = (machineId: string, reason: string) => Promise<void>;

export type MoveResult = { ok: true; machine: Machine } | { ok: false; code: 'RB_LIFECYCLE_CONFLICT' | 'RB_NOT_FOUND'; message: string };

/**
 * The one place machine states change. Every change is a compare-and-set in the store, written before
 * anything acts on it, and recorded on the machine's timeline.
 */
export class Lifecycle {
  private timer: NodeJS.Timeout | null = null;
  private enrolling: EnrollmentClock = async () => new Map();
  private readonly failureListeners = new Set<FailureListener>();

  constructor(
    private readonly machines: MachineRepo,
    private readonly events: EventRepo,
    private readonly timeline: Timeline,
    private readonly timeouts: StageTimeouts,
    private readonly log: Logger,
  ) {}

  static canMove(from: MachineState, to: MachineState): boolean {
    return to === 'failed' || NEXT[from].includes(to);
  }

  /** Why restoreInstalled would refuse the machine; null when it may go (or already is) back. */
  static restoreRefusal(m: Machine): string | null {
    if (m.state !== 'failed') return hasInstalled(m.state) ? null : `${m.name} is ${m.state}, not installed`;
    if (m.failedFrom === null) return `${m.name} failed before rackboot recorded the state it failed in: PATCH its state to installed if its install finished, or provision it again`;
    if (hasInstalled(m.failedFrom)) return null;
    return `${m.name} failed in ${m.failedFrom}, before its install finished: provision it again`;
  }

  async move(id: string, to: MachineState, reason: string, detail: Record<string, unknown> = {}): Promise<MoveResult> {
    const m = await this.machines.get(id);
    if (m === null) return { ok: false, code: 'RB_NOT_FOUND', message: `no machine ${id}` };
    if (!Lifecycle.canMove(m.state, to)) {
      return { ok: false, code: 'RB_LIFECYCLE_CONFLICT', message: `cannot move from ${m.state} to ${to}` };
    }
    const next = await this.machines.transition(id, [m.state], to, to === 'failed' ? reason : null);
    if (next === null) return { ok: false, code: 'RB_LIFECYCLE_CONFLICT', message: `state changed concurrently; cannot move to ${to}` };
    await this.timeline.record({
      machineId: id,
      mac: null,
      source: 'lifecycle',
      kind: to === 'failed' ? 'lifecycle.failed' : 'lifecycle.transition',
      outcome: to === 'failed' ? 'error' : 'info',
      message: `${m.state} → ${to}: ${reason}`,
      detail: { from: m.state, to, inStateMs: Date.now() - Date.parse(m.stateEnteredAt), ...detail },
    });
    if (to === 'failed') {
      for (const l of this.failureListeners) {
        try {
          await l(id, reason);
        } catch (err) {
          this.log.error({ err, machine: id }, 'failure listener failed');
        }
      }
    }
    return { ok: true, machine: next };
  }

  /** Enrollment stages are timed only for machines this clock names (cluster formation sets it). */
  setEnrollmentClock(clock: EnrollmentClock): void {
    this.enrolling = clock;
  }

  onFailure(l: FailureListener): () => void {
    this.failureListeners.add(l);
    return () => this.failureListeners.delete(l);
  }

  /** Marks a machine failed with the reason and its last timeline events, so the cause is on record. */
  async fail(id: string, reason: string): Promise<MoveResult> {
    const recent = (await this.events.listForMachine(id, { afterId: 0, limit: 5000 })).slice(-10);
    return this.move(id, 'failed', reason, { lastEvents: recent.map((e) => ({ ts: e.ts, kind: e.kind, outcome: e.outcome, message: e.message })) });
  }

  /**
   * Operator action: boot the installer again. Rotates the machine's token, so every URL handed out
   * for the previous install (scripts, config_url, callbacks) stops working.
   */
  async provision(id: string, actor: string): Promise<MoveResult> {
    const m = await this.machines.get(id);
    if (m === null) return { ok: false, code: 'RB_NOT_FOUND', message: `no machine ${id}` };
    if (m.state === 'booting-installer' || m.state === 'installing') {
      return { ok: false, code: 'RB_LIFECYCLE_CONFLICT', message: `an install is already under way (${m.state}); wait or let it time out` };
    }
    const next = await this.machines.transition(id, [m.state], 'provisioning', null);
    if (next === null) return { ok: false, code: 'RB_LIFECYCLE_CONFLICT', message: 'state changed concurrently' };
    const rotated = await this.machines.rotateToken(id);
    await this.timeline.record({
      machineId: id,
      mac: null,
      source: 'lifecycle',
      kind: 'lifecycle.provision',
      outcome: 'info',
      message: `${m.state} → provisioning: re-provision requested by ${actor}; earlier boot URLs revoked`,
      detail: { from: m.state, to: 'provisioning', actor },
    });
    return { ok: true, machine: rotated };
  }

  /**
   * For a failed cluster retried or deleted: a member that failed after its install (in `installed`
   * or an enrollment state) goes back to `installed`, from where formation moves it on or another
   * cluster takes it. A member that failed before its install finished must be provisioned again.
   */
  async restoreInstalled(id: string, why: string): Promise<MoveResult> {
    const m = await this.machines.get(id);
    if (m === null) return { ok: false, code: 'RB_NOT_FOUND', message: `no machine ${id}` };
    const refusal = Lifecycle.restoreRefusal(m);
    if (refusal !== null) return { ok: false, code: 'RB_LIFECYCLE_CONFLICT', message: refusal };
    if (m.state !== 'failed') return { ok: true, machine: m };
    const next = await this.machines.transition(id, ['failed'], 'installed', null);
    if (next === null) return { ok: false, code: 'RB_LIFECYCLE_CONFLICT', message: `${m.name}: state changed concurrently` };
    await this.timeline.record({
      machineId: id,
      mac: null,
      source: 'lifecycle',
      kind: 'lifecycle.restored',
      outcome: 'info',
      message: `failed → installed: ${why} (it had failed in ${m.failedFrom}: ${m.stateReason ?? 'no reason'})`,
      detail: { from: 'failed', to: 'installed', failedFrom: m.failedFrom, failedReason: m.stateReason },
    });
    return { ok: true, machine: next };
  }

  startWatchdog(intervalMs: number): void {
    this.timer = setInterval(() => void this.checkTimeouts(Date.now()), intervalMs);
    this.timer.unref();
  }

  stopWatchdog(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Fails every machine that has stayed in a stage longer than STAGE_LIMITS allows. */
  async checkTimeouts(now: number): Promise<number> {
    let failed = 0;
    try {
      const enrolling = await this.enrolling();
      for (const m of await this.machines.inStates(Object.keys(STAGE_LIMITS) as MachineState[])) {
        const stage = STAGE_LIMITS[m.state]!;
        let since = Date.parse(m.stateEnteredAt);
        if (stage.enrollment) {
          const formingSince = enrolling.get(m.id);
          if (formingSince === undefined) continue;
          since = Math.max(since, formingSince);
        }
        const limit = stage.seconds(this.timeouts);
        const age = (now - since) / 1000;
        if (age <= limit) continue;
        const r = await this.fail(m.id, `timed out in ${m.state} after ${Math.round(age)} s (limit ${limit} s) waiting for ${stage.waitingFor}`);
        if (r.ok) failed++;
      }
    } catch (err) {
      this.log.error({ err }, 'stage timeout check failed');
    }
    return failed;
  }
}
