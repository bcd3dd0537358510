// Cluster formation through each host's Local Management API, as a sequence of persisted steps:
//   hosts answer (ping, login, edge host id) → leader chosen → followers linked with the leader's
//   2-minute token (regenerated when it expires) → link Completed → content bundle uploaded to the
//   leader → sync done → cluster created → Running and Healthy (kubeconfig sealed and stored) →
//   pack bundle pushed to the cluster's registry (when the cluster names one) → every Kubernetes
//   node Ready.
// Each step is written to the store before it acts and marked done after, so a restarted rackboot
// picks up where it was. The two steps that must not run twice (link apply on a follower, cluster
// create on the leader) first ask the host whether the earlier attempt took before trying again.
// Deadlines come from config.lifecycle and count from the step's first (persisted) start. They are
// checked between calls here; a call that hangs is caught by the lifecycle watchdog
// (lifecycle/stage-limits.ts), which fails the machine: the cluster then fails and its formation is
// aborted through the AbortSignal every Local API client of the run holds.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { LocalApiClient, LocalApiError, LocalApiResult, V1ClusterConfiguration, V1EdgeNativeMachinePoolConfig } from '../../local-api/index.js';
import type { Machine } from '../inventory/machine.js';
import { Lifecycle } from '../lifecycle/lifecycle.js';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import type { ClusterRepo, MachineRepo } from '../store/types.js';
import type { ProgressBoard, TransferHandle } from '../progress/progress-board.js';
import type { Timeline } from '../timeline/recorder.js';
import { registryUrl } from '../packs/pack-target.js';
import type { Cluster, ClusterStep } from './cluster.js';
import { pushClusterPacks } from './cluster-packs.js';
import type { HostClientFactory } from './host-clients.js';
import { seal, unseal } from './kubeconfig-seal.js';
import { watchNodes, type NodeView, type NodeWatchHandle } from './node-watch.js';

export interface FormationTimeouts {
  hostReadySeconds: number;
  linkSeconds: number;
  uploadStallSeconds: number;
  contentSyncSeconds: number;
  clusterCreateSeconds: number;
  packsPushSeconds: number;
  nodeReadySeconds: number;
}

export interface FormationDeps {
  clusters: ClusterRepo;
  machines: MachineRepo;
  lifecycle: Lifecycle;
  timeline: Timeline;
  /** A Local API client for the machine (TLS pin from the store, or trust on first use recorded there). */
  client: HostClientFactory;
  sealKey: Buffer;
  timeouts: FormationTimeouts;
  pollMs: number;
  /** Live upload bar; the timeline keeps the quarters. */
  progress?: ProgressBoard;
  log: Logger;
}

/** A link token with less validity left than this is left to expire and a fresh one fetched. */
const LINK_TOKEN_MARGIN_S = 10;

/** The answer to an operator's change of a cluster (retry, delete). */
export type ClusterChange = { ok: true } | { ok: false; status: 404 | 409; message: string };

class FormationFailure extends Error {}
class Stopped extends Error {}

interface HostInfo {
  machine: Machine;
  api: LocalApiClient;
  hostUid: string;
  hostName: string;
  address: string;
}

export class ClusterFormation {
  private readonly running = new Map<string, Promise<void>>();
  private readonly monitors = new Map<string, NodeWatchHandle>();
  private stopping = false;
  private readonly wakers = new Set<() => void>();
  private readonly aborts = new Map<string, AbortController>();

  constructor(private readonly d: FormationDeps) {
    // The watchdog times enrollment stages of members of clusters being formed, from the formation start.
    d.lifecycle.setEnrollmentClock(async () => {
      const since = new Map<string, number>();
      for (const c of await d.clusters.inState('forming')) for (const m of c.members) since.set(m.machineId, Date.parse(c.stateEnteredAt));
      return since;
    });
    d.lifecycle.onFailure((machineId, reason) => this.memberFailed(machineId, reason));
  }

  /** Starts (or keeps running) the formation of one cluster in the background. */
  start(clusterId: string): void {
    if (this.stopping || this.running.has(clusterId)) return;
    const abort = new AbortController();
    this.aborts.set(clusterId, abort);
    const p = this.run(clusterId, abort.signal)
      .catch((err: unknown) => this.d.log.error({ err, clusterId }, 'cluster formation crashed'))
      .finally(() => {
        this.running.delete(clusterId);
        this.aborts.delete(clusterId);
      });
    this.running.set(clusterId, p);
  }

  /**
   * A member of a cluster being formed failed (stage timeout, operator, another layer): the cluster
   * fails with that reason, its other members with it, and its formation task is aborted.
   */
  private async memberFailed(machineId: string, reason: string): Promise<void> {
    const c = (await this.d.clusters.inState('forming')).find((x) => x.members.some((m) => m.machineId === machineId));
    if (c === undefined) return;
    const name = (await this.d.machines.get(machineId))?.name ?? machineId;
    const why = `${name}: ${reason}`;
    const failed = await this.d.clusters.transition(c.id, ['forming'], 'failed', why);
    this.aborts.get(c.id)?.abort(why);
    if (failed === null) return;
    await this.note(c, c.members.map((m) => m.machineId), 'cluster.failed', 'error', `cluster ${c.name} failed: ${why}`);
    for (const m of c.members) {
      const cur = await this.d.machines.get(m.machineId);
      if (cur !== null && cur.state !== 'failed' && cur.state !== 'enrolled') await this.d.lifecycle.fail(m.machineId, `cluster ${c.name}: ${why}`);
    }
  }

  /**
   * Forms a failed cluster again, once its cause is mended: members that failed after their install go
   * back to `installed`, and formation resumes from the persisted steps (done steps are not repeated;
   * the others get their time limits afresh).
   */
  async retry(clusterId: string, actor: string): Promise<ClusterChange> {
    const c = await this.d.clusters.get(clusterId);
    if (c === null) return { ok: false, status: 404, message: 'no such cluster' };
    if (c.state !== 'failed') return { ok: false, status: 409, message: `cluster ${c.name} is ${c.state}: only a failed cluster can be retried` };
    // The failed run may still be failing its members; a new run starts only once it has ended.
    await this.settled(c.id);
    const refused = await this.unrestorable(c);
    if (refused.length > 0) return { ok: false, status: 409, message: `cluster ${c.name} cannot be retried: ${refused.join('; ')}` };
    const restored = await this.restoreMembers(c, `cluster ${c.name} retried by ${actor}`);
    if (!restored.ok) return restored;
    const reopened = await this.d.clusters.reopen(c.id);
    if (reopened === null) return { ok: false, status: 409, message: `cluster ${c.name} changed state concurrently` };
    await this.note(c, c.members.map((m) => m.machineId), 'cluster.retry', 'info', `cluster ${c.name} retried by ${actor} (it had failed: ${c.stateReason ?? 'no reason'})`, { actor, failedReason: c.stateReason });
    this.start(c.id);
    return { ok: true };
  }

  /**
   * Forgets a failed or enrolled cluster. Members of a failed one that failed after their install go
   * back to `installed`, free to join another. An enrolled one keeps running on its hosts: rackboot
   * only stops watching its nodes, and its members stay `enrolled`.
   */
  async forget(clusterId: string, actor: string): Promise<ClusterChange> {
    const c = await this.d.clusters.get(clusterId);
    if (c === null) return { ok: false, status: 404, message: 'no such cluster' };
    if (c.state === 'forming') return { ok: false, status: 409, message: `cluster ${c.name} is forming: wait until it is enrolled or failed (or fail a member)` };
    await this.settled(c.id);
    await this.note(c, c.members.map((m) => m.machineId), 'cluster.deleted', 'info', `cluster ${c.name} (${c.state}) deleted by ${actor}`, { actor, state: c.state });
    // Members first: a stop in between leaves a cluster to delete again, not failed orphans.
    await this.restoreMembers(c, `cluster ${c.name} deleted by ${actor}`, true);
    if (!(await this.d.clusters.deleteEnded(c.id))) return { ok: false, status: 409, message: `cluster ${c.name} changed state concurrently` };
    this.monitors.get(c.id)?.stop();
    this.monitors.delete(c.id);
    return { ok: true };
  }

  /** Why members cannot go back to `installed`: each one named, empty when all can. */
  private async unrestorable(c: Cluster): Promise<string[]> {
    const refused: string[] = [];
    for (const { machineId } of c.members) {
      const m = await this.d.machines.get(machineId);
      const refusal = m === null ? `machine ${machineId} was deleted` : Lifecycle.restoreRefusal(m);
      if (refusal !== null) refused.push(refusal);
    }
    return refused;
  }

  private async restoreMembers(c: Cluster, why: string, skipUnrestorable = false): Promise<ClusterChange> {
    for (const { machineId } of c.members) {
      const r = await this.d.lifecycle.restoreInstalled(machineId, why);
      if (!r.ok && !skipUnrestorable) return { ok: false, status: 409, message: r.message };
    }
    return { ok: true };
  }

  /** Resumes every cluster still forming and watches the nodes of enrolled ones. */
  async resume(): Promise<void> {
    for (const c of await this.d.clusters.inState('forming')) this.start(c.id);
    for (const c of await this.d.clusters.inState('enrolled')) await this.monitor(c);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.wakers) w();
    for (const a of this.aborts.values()) a.abort('rackboot is stopping');
    for (const m of this.monitors.values()) m.stop();
    this.monitors.clear();
    await Promise.all([...this.running.values()]);
  }

  /** Resolves when the cluster's formation task (if any) has ended. */
  async settled(clusterId: string): Promise<void> {
    await this.running.get(clusterId);
  }

  private async run(clusterId: string, signal: AbortSignal): Promise<void> {
    const c = await this.d.clusters.get(clusterId);
    if (c === null || c.state !== 'forming') return;
    const clients: LocalApiClient[] = [];
    try {
      const hosts = await this.hostsAnswer(c, clients, signal);
      const leader = await this.pickLeader(c, hosts);
      const followers = hosts.filter((h) => h !== leader);
      await this.link(c, leader, followers);
      await this.upload(c, leader);
      await this.sync(c, leader, hosts);
      await this.create(c, leader, hosts);
      const kubeconfig = await this.awaitRunning(c, leader, hosts);
      await this.pushPacks(c);
      await this.awaitNodes(c, hosts, kubeconfig);
      const done = await this.d.clusters.transition(c.id, ['forming'], 'enrolled', null);
      if (done !== null) {
        await this.note(c, hosts.map((h) => h.machine.id), 'cluster.enrolled', 'ok', `cluster ${c.name} enrolled: every node Ready`);
        await this.monitor(done);
      }
    } catch (err) {
      // Stopped, or aborted because a member failed: whoever aborted has recorded why.
      if (err instanceof Stopped || signal.aborted) return;
      const reason = err instanceof FormationFailure ? err.message : `internal error: ${(err as Error).message}`;
      if (!(err instanceof FormationFailure)) this.d.log.error({ err, clusterId }, 'cluster formation failed unexpectedly');
      await this.d.clusters.transition(c.id, ['forming'], 'failed', reason);
      await this.note(c, c.members.map((m) => m.machineId), 'cluster.failed', 'error', `cluster ${c.name} failed: ${reason}`);
      for (const m of c.members) {
        const cur = await this.d.machines.get(m.machineId);
        if (cur !== null && cur.state !== 'failed' && cur.state !== 'enrolled') await this.d.lifecycle.fail(m.machineId, `cluster ${c.name}: ${reason}`);
      }
    } finally {
      for (const api of clients) api.close();
    }
  }

  // ---- steps ------------------------------------------------------------------------------------

  private async hostsAnswer(c: Cluster, clients: LocalApiClient[], signal: AbortSignal): Promise<HostInfo[]> {
    return Promise.all(
      c.members.map(async ({ machineId }) => {
        const m = await this.machine(machineId);
        const made = await this.d.client(m, signal);
        if (!made.ok) throw new FormationFailure(`${m.name}: ${made.error.message}`);
        const api = made.value;
        clients.push(api);
        const address = m.network?.ip ?? '';
        const prior = await this.d.clusters.step(c.id, 'host-ready', m.id);
        if (prior?.status === 'done') {
          await this.advance(c, [m], 'host-ready', 'Local Management API answered');
          return { machine: m, api, address, hostUid: String(prior.detail.hostUid), hostName: String(prior.detail.hostName) };
        }
        const step = prior ?? (await this.begin(c, 'host-ready', m, `waiting for the Local Management API of ${m.name} at ${address}:${api.baseUrl.split(':').pop()}`));
        const deadline = this.deadline(step, this.d.timeouts.hostReadySeconds);
        let last = '';
        for (;;) {
          const info = await this.probeHost(api);
          if (info.ok) {
            await this.d.clusters.finishStep(c.id, 'host-ready', m.id, info.value);
            await this.note(c, [m.id], 'host.ready', 'ok', `${m.name}: Local Management API answers (edge host ${info.value.hostUid}, certificate ${api.pinnedFingerprint()})`);
            await this.advance(c, [m], 'host-ready', 'Local Management API answered');
            return { machine: m, api, address, ...info.value };
          }
          if (info.error.code === 'RB_LOCALAPI_TLS_PIN' || info.error.code === 'RB_LOCALAPI_UNAUTHORIZED' || info.error.code === 'RB_LOCALAPI_BAD_CONFIG') {
            throw new FormationFailure(`${m.name}: ${info.error.message}`);
          }
          if (info.error.message !== last) {
            last = info.error.message;
            this.d.log.info({ machine: m.name, code: info.error.code }, 'host not answering yet');
          }
          await this.waitUntil(c, deadline, `${m.name}: the Local Management API did not answer within ${this.d.timeouts.hostReadySeconds} s (last: ${last})`);
        }
      }),
    );
  }

  private async probeHost(api: LocalApiClient): Promise<LocalApiResult<{ hostUid: string; hostName: string }>> {
    const ping = await api.ping();
    if (!ping.ok) return ping;
    const info = await api.edgeHost();
    if (!info.ok) return info;
    const hostUid = info.value.metadata?.id;
    if (hostUid === undefined || hostUid === '') return { ok: false, error: { code: 'RB_LOCALAPI_BAD_RESPONSE', message: 'edge host has no metadata.id' } };
    return { ok: true, value: { hostUid, hostName: info.value.status?.hostName ?? info.value.metadata?.name ?? '' } };
  }

  private async pickLeader(c: Cluster, hosts: HostInfo[]): Promise<HostInfo> {
    const fresh = await this.d.clusters.get(c.id);
    const chosen = fresh?.leaderMachineId;
    const existing = hosts.find((h) => h.machine.id === chosen);
    if (existing !== undefined) return existing;
    // The first control-plane machine: it initialises the control plane and holds the content.
    const first = c.members.find((m) => m.role === 'control-plane')!;
    const leader = hosts.find((h) => h.machine.id === first.machineId)!;
    await this.d.clusters.setLeader(c.id, leader.machine.id);
    await this.note(c, hosts.map((h) => h.machine.id), 'leader.chosen', 'info', `leader: ${leader.machine.name}`);
    return leader;
  }

  private async link(c: Cluster, leader: HostInfo, followers: HostInfo[]): Promise<void> {
    for (const f of followers) await this.linkOne(c, leader, f);
    const wait = (await this.d.clusters.step(c.id, 'link-complete')) ?? (await this.begin(c, 'link-complete', null, `waiting for link status Completed on ${leader.machine.name}`));
    if (wait.status !== 'done' && followers.length > 0) {
      const deadline = this.deadline(wait, this.d.timeouts.linkSeconds);
      for (;;) {
        const st = await leader.api.linkStatus();
        if (st.ok) {
          if (st.value.status === 'Failed') throw new FormationFailure(`linking failed on ${leader.machine.name}: ${st.value.errorMessage ?? 'no message'}`);
          const ips = new Set((st.value.peers ?? []).map((p) => p.ip));
          if (st.value.status === 'Completed' && followers.every((f) => ips.has(f.address))) break;
        }
        await this.waitUntil(c, deadline, `link status did not reach Completed within ${this.d.timeouts.linkSeconds} s`);
      }
    }
    if (wait.status !== 'done') {
      await this.d.clusters.finishStep(c.id, 'link-complete', '');
      await this.note(c, [leader, ...followers].map((h) => h.machine.id), 'link.completed', 'ok', followers.length === 0 ? 'single host: nothing to link' : `link status Completed: ${followers.length + 1} hosts linked`);
    }
    await this.advance(c, [leader, ...followers].map((h) => h.machine), 'linked', 'linked to the leader');
  }

  private async linkOne(c: Cluster, leader: HostInfo, f: HostInfo): Promise<void> {
    const prior = await this.d.clusters.step(c.id, 'link-apply', f.machine.id);
    if (prior?.status === 'done') return;
    const deadlineStep = prior ?? (await this.begin(c, 'link-apply', f.machine, `linking ${f.machine.name} to ${leader.machine.name}`));
    const deadline = this.deadline(deadlineStep, this.d.timeouts.linkSeconds);
    for (;;) {
      // An apply that was sent before a restart (or whose answer was lost) may have taken: ask first.
      if (await this.linkedTo(f, leader)) {
        await this.d.clusters.finishStep(c.id, 'link-apply', f.machine.id, { leader: leader.machine.id });
        await this.note(c, [f.machine.id], 'link.applied', 'ok', `${f.machine.name} is linked to ${leader.machine.name}`);
        return;
      }
      const tok = await leader.api.generateLinkToken();
      if (!tok.ok) {
        await this.retryOrFail(c, tok.error, deadline, `link token from ${leader.machine.name}`);
        continue;
      }
      const left = tok.value.remainingTime ?? 120;
      if (left < LINK_TOKEN_MARGIN_S) {
        await this.note(c, [f.machine.id], 'link.token-expiring', 'info', `link token has ${left} s left; waiting for a fresh one`);
        await this.sleep(c, (left + 1) * 1000);
        continue;
      }
      await this.d.clusters.beginStep(c.id, 'link-apply', f.machine.id, { tokenValidS: left });
      const r = await f.api.applyLinkToken(tok.value);
      if (r.ok) continue; // confirmed through link status at the top of the loop
      if (r.error.code === 'RB_LOCALAPI_BAD_REQUEST' && /expired|invalid|not the leader/i.test(`${r.error.apiCode ?? ''} ${r.error.apiMessage ?? ''}`)) {
        await this.note(c, [f.machine.id], 'link.token-expired', 'info', `${f.machine.name} refused the link token (${r.error.apiCode ?? r.error.apiMessage}); generating a new one`);
        continue;
      }
      if (r.error.code === 'RB_LOCALAPI_BAD_REQUEST' && /AlreadyLinked/i.test(r.error.apiCode ?? '')) {
        if (await this.linkedTo(f, leader)) continue;
        throw new FormationFailure(`${f.machine.name} is linked to another host; unlink it first`);
      }
      await this.retryOrFail(c, r.error, deadline, `link ${f.machine.name}`);
    }
  }

  private async linkedTo(f: HostInfo, leader: HostInfo): Promise<boolean> {
    const st = await f.api.linkStatus();
    if (!st.ok) return false;
    return (st.value.status === 'InProgress' || st.value.status === 'Completed') && (st.value.peers ?? []).some((p) => p.ip === leader.address || p.id === leader.hostUid);
  }

  private async upload(c: Cluster, leader: HostInfo): Promise<void> {
    const prior = await this.d.clusters.step(c.id, 'content-upload');
    if (prior?.status === 'done') return;
    const bundle = c.spec.contentBundle;
    let digest: { sha256: string; size: number };
    try {
      digest = await sha256File(bundle);
    } catch (e) {
      throw new FormationFailure(`content bundle ${bundle}: ${(e as Error).message}`);
    }
    const there = await leader.api.uploadedContent();
    if (there.ok && there.value.sha256Hash === digest.sha256) {
      await this.d.clusters.finishStep(c.id, 'content-upload', '', { ...digest, skipped: true });
      await this.note(c, [leader.machine.id], 'content.present', 'ok', `${leader.machine.name} already holds the content bundle (sha256 ${digest.sha256})`);
      return;
    }
    await this.begin(c, 'content-upload', leader.machine, `uploading ${bundle} (${digest.size} bytes) to ${leader.machine.name}`, digest, false);
    let lastQuarter = -1;
    let lastAttempt = 1;
    let bar: TransferHandle | null = null;
    let barAttempt = 0;
    const r = await leader.api.uploadContent(bundle, {
      idleTimeoutMs: this.d.timeouts.uploadStallSeconds * 1000,
      onProgress: (p) => {
        // Each attempt starts its own bar from zero: a retry sends the whole bundle again.
        if (p.attempt !== barAttempt && this.d.progress !== undefined) {
          barAttempt = p.attempt;
          bar = this.d.progress.upload(c.id, basename(bundle), p.totalBytes, p.attempt);
        }
        bar?.sent(p.sentBytes);
        const q = p.totalBytes === 0 ? 4 : Math.floor((p.sentBytes / p.totalBytes) * 4);
        if (p.attempt !== lastAttempt) {
          lastAttempt = p.attempt;
          lastQuarter = -1;
          void this.note(c, [leader.machine.id], 'content.upload-retry', 'info', `upload failed; attempt ${p.attempt} starts again from the first byte`);
        }
        if (q > lastQuarter) {
          lastQuarter = q;
          void this.note(c, [leader.machine.id], 'content.upload-progress', 'info', `upload ${q * 25} % (${p.sentBytes}/${p.totalBytes} bytes, attempt ${p.attempt})`, { sentBytes: p.sentBytes, totalBytes: p.totalBytes, attempt: p.attempt });
        }
      },
    });
    (bar as TransferHandle | null)?.end(r.ok);
    if (!r.ok) throw new FormationFailure(`content upload to ${leader.machine.name} failed after ${r.error.attempts ?? 1} attempt(s): ${r.error.message}`);
    const check = await leader.api.uploadedContent();
    if (!check.ok || check.value.sha256Hash !== digest.sha256) {
      throw new FormationFailure(`${leader.machine.name} reports sha256 ${check.ok ? check.value.sha256Hash : '?'} for the upload, expected ${digest.sha256}`);
    }
    await this.d.clusters.finishStep(c.id, 'content-upload', '', { ...digest, uploadedAt: new Date().toISOString() });
    await this.note(c, [leader.machine.id], 'content.uploaded', 'ok', `content bundle uploaded to ${leader.machine.name}, sha256 verified`);
  }

  private async sync(c: Cluster, leader: HostInfo, hosts: HostInfo[]): Promise<void> {
    const prior = (await this.d.clusters.step(c.id, 'content-sync')) ?? (await this.begin(c, 'content-sync', null, 'waiting for the content to sync to every host'));
    if (prior.status !== 'done') {
      const deadline = this.deadline(prior, this.d.timeouts.contentSyncSeconds);
      for (;;) {
        const s = await leader.api.syncStatus();
        if (s.ok) {
          const items = s.value.pendingItems ?? [];
          const failed = items.filter((i) => i.status === 'failed');
          const errors = Object.entries(s.value.errors ?? {});
          if (failed.length > 0 || errors.length > 0) {
            throw new FormationFailure(`content sync failed: ${[...failed.map((i) => `${i.name}: ${i.msg ?? 'failed'}`), ...errors.map(([k, v]) => `${k}: ${v}`)].join('; ')}`);
          }
          if (items.every((i) => i.status === 'completed')) break;
        }
        await this.waitUntil(c, deadline, `content did not sync within ${this.d.timeouts.contentSyncSeconds} s`);
      }
      await this.d.clusters.finishStep(c.id, 'content-sync', '');
      await this.note(c, hosts.map((h) => h.machine.id), 'content.synced', 'ok', 'content synced to every host');
    }
    await this.advance(c, hosts.map((h) => h.machine), 'content-synced', 'content synced');
  }

  private async create(c: Cluster, leader: HostInfo, hosts: HostInfo[]): Promise<void> {
    const prior = await this.d.clusters.step(c.id, 'cluster-create');
    if (prior?.status !== 'done') {
      // A create sent before a restart may have been accepted: the leader knows.
      const exists = await this.clusterExists(c, leader);
      if (!exists) {
        await this.begin(c, 'cluster-create', leader.machine, `creating cluster ${c.name} on ${leader.machine.name}`, {}, false);
        const r = await leader.api.createCluster(this.clusterConfig(c, hosts));
        if (!r.ok && !(await this.clusterExists(c, leader))) throw new FormationFailure(`cluster create on ${leader.machine.name} failed: ${r.error.message}`);
      }
      await this.d.clusters.finishStep(c.id, 'cluster-create', '');
      await this.note(c, hosts.map((h) => h.machine.id), 'cluster.create-accepted', 'ok', `${leader.machine.name} accepted the cluster configuration`);
    }
    await this.advance(c, hosts.map((h) => h.machine), 'cluster-member', `member of cluster ${c.name}`);
  }

  private async clusterExists(c: Cluster, leader: HostInfo): Promise<boolean> {
    for (;;) {
      const d = await leader.api.clusterDetails();
      if (d.ok) return d.value !== null;
      await this.sleep(c, this.d.pollMs);
    }
  }

  private clusterConfig(c: Cluster, hosts: HostInfo[]): V1ClusterConfiguration {
    const byRole = (role: string) => c.members.filter((m) => m.role === role).map((m) => hosts.find((h) => h.machine.id === m.machineId)!);
    const entry = (h: HostInfo) => ({ hostUid: h.hostUid, hostName: h.hostName, hostAddress: h.address, ...(h.machine.network?.interface ? { nicName: h.machine.network.interface } : {}) });
    const workers = byRole('worker');
    const pools: V1EdgeNativeMachinePoolConfig[] = [{ name: 'control-plane-pool', isControlPlane: true, useControlPlaneAsWorker: workers.length === 0, hosts: byRole('control-plane').map(entry) }];
    if (workers.length > 0) pools.push({ name: 'worker-pool', isControlPlane: false, hosts: workers.map(entry) });
    return {
      metadata: { name: c.name },
      spec: {
        cloudConfig: {
          spec: {
            clusterConfig: { controlPlaneEndpoint: { type: 'VIP', host: c.spec.vip }, ntpServers: c.spec.ntpServers, sshKeys: c.spec.sshKeys },
            machinePoolConfig: pools,
          },
        },
        profileVariables: c.spec.profileVariables,
      },
    };
  }

  private async awaitRunning(c: Cluster, leader: HostInfo, hosts: HostInfo[]): Promise<string> {
    const step = (await this.d.clusters.step(c.id, 'cluster-running')) ?? (await this.begin(c, 'cluster-running', null, `waiting for cluster ${c.name} to be Running and Healthy`));
    if (step.status === 'done') {
      const kc = await this.kubeconfig(c);
      if (kc !== undefined) return kc;
    }
    // From the create; a retried cluster's wait (its step restarted) gets the whole limit again.
    const created = (await this.d.clusters.step(c.id, 'cluster-create')) ?? step;
    const deadline = Math.max(this.deadline(created, this.d.timeouts.clusterCreateSeconds), this.deadline(step, this.d.timeouts.clusterCreateSeconds));
    const seen = new Set((await this.d.clusters.events(c.id, { limit: 5000 })).filter((e) => e.kind === 'appliance.event').map((e) => String(e.detail?.key)));
    let lastState = '';
    for (;;) {
      const ev = await leader.api.lifecycleEvents();
      if (ev.ok) {
        for (const e of ev.value.clusterEvents ?? []) {
          const key = `${e.type}|${e.lastTransitionTime ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          await this.note(c, [], 'appliance.event', e.type.toLowerCase().includes('error') ? 'error' : 'info', `appliance: ${e.type}${e.message ? `: ${e.message}` : ''}`, { key, type: e.type, reason: e.reason, at: e.lastTransitionTime });
        }
      }
      const d = await leader.api.clusterDetails();
      if (d.ok && d.value !== null) {
        const st = d.value.status;
        const state = `${st?.clusterState ?? '?'}/${st?.health?.status ?? '?'}`;
        if (state !== lastState) {
          lastState = state;
          await this.note(c, [], 'cluster.state', 'info', `cluster ${c.name}: ${state}`);
        }
        if (st?.clusterState === 'Error') throw new FormationFailure(`cluster ${c.name} is in Error: ${st.clusterStateReason ?? 'no reason given'}`);
        for (const pool of st?.nodePools ?? []) {
          for (const n of pool.nodes ?? []) {
            const h = hosts.find((x) => (n.nodeName !== undefined && n.nodeName === x.hostName) || (n.ipv4 !== undefined && n.ipv4 === x.address));
            if (h !== undefined && n.nodeState === 'Running' && n.health?.status === 'Healthy') await this.advance(c, [h.machine], 'node-ready', `node ${n.nodeName} Running and Healthy`);
          }
        }
        if (st?.clusterState === 'Running' && st.health?.status === 'Healthy' && st.kubeconfig) {
          await this.d.clusters.setSealedKubeconfig(c.id, seal(this.d.sealKey, st.kubeconfig));
          await this.d.clusters.finishStep(c.id, 'cluster-running', '');
          await this.note(c, hosts.map((h) => h.machine.id), 'cluster.running', 'ok', `cluster ${c.name} Running and Healthy; kubeconfig stored sealed`);
          await this.advance(c, hosts.map((h) => h.machine), 'node-ready', `cluster ${c.name} Running and Healthy`);
          return st.kubeconfig;
        }
      }
      await this.waitUntil(c, deadline, `cluster ${c.name} was not Running and Healthy within ${this.d.timeouts.clusterCreateSeconds} s (last ${lastState || 'no details'})`);
    }
  }

  /**
   * The cluster's pack bundle to its registry (Zot runs in the cluster once it is Running). Failures
   * on the way to the registry are retried with backoff until lifecycle.packsPushSeconds; a bad
   * archive, refused credentials or unusable settings fail at once. Resuming after a restart simply
   * pushes again: blobs the registry already has are skipped by digest, manifests are PUT again.
   */
  private async pushPacks(c: Cluster): Promise<void> {
    const bundle = c.spec.packs;
    if (bundle === undefined) return;
    const prior = await this.d.clusters.step(c.id, 'packs-push');
    if (prior?.status === 'done') return;
    const registry = registryUrl(bundle, c.spec.vip);
    const step = prior ?? (await this.begin(c, 'packs-push', null, `pushing the packs of ${bundle.archive} to ${registry}`, { registry }));
    const deadline = this.deadline(step, this.d.timeouts.packsPushSeconds);
    const signal = this.aborts.get(c.id)?.signal;
    for (let attempt = 1; ; attempt++) {
      const r = await pushClusterPacks({ clusters: this.d.clusters, timeline: this.d.timeline, log: this.d.log }, c, bundle, signal);
      if (r.ok) {
        await this.d.clusters.finishStep(c.id, 'packs-push', '', { registry: r.registry, repository: r.repository, manifests: r.manifests.map((m) => ({ tag: m.tag, digest: m.digest })) });
        return;
      }
      if (signal?.aborted === true) throw new Stopped();
      if (r.kind !== 'registry') throw new FormationFailure(`pack push to ${registry}: ${r.error}`);
      if (Date.now() > deadline) throw new FormationFailure(`pack push to ${registry} did not succeed within ${this.d.timeouts.packsPushSeconds} s: ${r.error}`);
      const delayMs = Math.min(60_000, this.d.pollMs * 2 ** Math.min(attempt, 10));
      await this.d.clusters.beginStep(c.id, 'packs-push', '', { registry });
      await this.note(c, c.members.map((m) => m.machineId), 'packs.push-retry', 'info', `pack push attempt ${attempt} failed; trying again in ${delayMs} ms`, { attempt, delayMs });
      await this.sleep(c, delayMs);
    }
  }

  /** The cluster's kubeconfig, unsealed; undefined until the cluster has been Running and Healthy. */
  async kubeconfig(c: Cluster): Promise<string | undefined> {
    const sealed = await this.d.clusters.sealedKubeconfig(c.id);
    return sealed === null ? undefined : unseal(this.d.sealKey, sealed);
  }

  private async awaitNodes(c: Cluster, hosts: HostInfo[], kubeconfig: string): Promise<void> {
    const step = (await this.d.clusters.step(c.id, 'nodes-ready')) ?? (await this.begin(c, 'nodes-ready', null, 'waiting for every Kubernetes node to be Ready'));
    if (step.status === 'done') return;
    const deadline = this.deadline(step, this.d.timeouts.nodeReadySeconds);
    const pending = new Set(hosts.map((h) => h.machine.id));
    for (const h of hosts) if ((await this.machine(h.machine.id)).state === 'enrolled') pending.delete(h.machine.id);
    const ready: HostInfo[] = [];
    const watch = watchNodes(
      kubeconfig,
      (n) => {
        const h = matchNode(n, hosts);
        if (h !== undefined && n.ready && pending.delete(h.machine.id)) ready.push(h);
        for (const w of this.wakers) w();
      },
      this.d.log.child({ cluster: c.name }),
      this.d.pollMs,
    );
    try {
      for (;;) {
        for (const h of ready.splice(0)) {
          await this.advance(c, [h.machine], 'enrolled', 'Kubernetes node Ready');
          await this.note(c, [h.machine.id], 'node.ready', 'ok', `${h.machine.name}: Kubernetes node Ready`);
        }
        if (pending.size === 0) break;
        await this.waitUntil(c, deadline, `Kubernetes nodes not Ready within ${this.d.timeouts.nodeReadySeconds} s`);
      }
    } finally {
      watch.stop();
    }
    await this.d.clusters.finishStep(c.id, 'nodes-ready', '');
  }

  /** After enrollment: a node that stops being Ready is reported; the machine keeps its history. */
  private async monitor(c: Cluster): Promise<void> {
    if (this.stopping || this.monitors.has(c.id)) return;
    const kubeconfig = await this.kubeconfig(c);
    if (kubeconfig === undefined) return;
    const hosts: NodeOwner[] = [];
    for (const m of c.members) {
      const machine = await this.d.machines.get(m.machineId);
      const step = await this.d.clusters.step(c.id, 'host-ready', m.machineId);
      if (machine !== null) hosts.push({ machine, hostName: String(step?.detail.hostName ?? ''), address: machine.network?.ip ?? '' });
    }
    const last = new Map<string, boolean>();
    const handle = watchNodes(
      kubeconfig,
      (n) => {
        const h = matchNode(n, hosts);
        if (h === undefined) return;
        const before = last.get(h.machine.id) ?? true;
        last.set(h.machine.id, n.ready);
        if (before && !n.ready) void this.note(c, [h.machine.id], 'node.not-ready', 'error', `${h.machine.name}: Kubernetes node ${n.name} is no longer Ready (${n.reason})`);
        else if (!before && n.ready) void this.note(c, [h.machine.id], 'node.ready-again', 'ok', `${h.machine.name}: Kubernetes node ${n.name} is Ready again`);
      },
      this.d.log.child({ cluster: c.name }),
      Math.max(this.d.pollMs, 1000),
    );
    this.monitors.set(c.id, handle);
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private async machine(id: string): Promise<Machine> {
    const m = await this.d.machines.get(id);
    if (m === null) throw new FormationFailure(`machine ${id} was deleted`);
    if (m.state === 'failed') throw new FormationFailure(`${m.name} failed: ${m.stateReason ?? 'no reason'}`);
    return m;
  }

  /** Moves each machine forward to `to`, through the states in between; already there or past is fine. */
  private async advance(c: Cluster, ms: Machine[], to: MachineState, reason: string): Promise<void> {
    const target = MACHINE_STATES.indexOf(to);
    for (const m0 of ms) {
      let m = await this.machine(m0.id);
      while (MACHINE_STATES.indexOf(m.state) < target) {
        const next = MACHINE_STATES[MACHINE_STATES.indexOf(m.state) + 1]!;
        const r = await this.d.lifecycle.move(m.id, next, `${reason} (cluster ${c.name})`, { cluster: c.name });
        if (!r.ok) throw new FormationFailure(`${m.name}: ${r.message}`);
        m = r.machine;
      }
    }
  }

  /** Persists the start of a step: per machine when `m` is given and `perMachine`, else cluster-wide. */
  private async begin(c: Cluster, step: string, m: Machine | null, message: string, detail: Record<string, unknown> = {}, perMachine = true): Promise<ClusterStep> {
    const s = await this.d.clusters.beginStep(c.id, step, perMachine ? (m?.id ?? '') : '', detail);
    await this.note(c, m === null ? c.members.map((x) => x.machineId) : [m.id], `step.${step}`, 'info', message);
    return s;
  }

  private deadline(step: ClusterStep, seconds: number): number {
    return Date.parse(step.startedAt) + seconds * 1000;
  }

  /** Sleeps one poll interval, or fails when the deadline has passed. */
  private async waitUntil(c: Cluster, deadline: number, failure: string): Promise<void> {
    if (Date.now() > deadline) throw new FormationFailure(failure);
    await this.sleep(c, this.d.pollMs);
  }

  private async retryOrFail(c: Cluster, e: LocalApiError, deadline: number, what: string): Promise<void> {
    if (e.code === 'RB_LOCALAPI_TLS_PIN' || e.code === 'RB_LOCALAPI_UNAUTHORIZED') throw new FormationFailure(`${what}: ${e.message}`);
    await this.waitUntil(c, deadline, `${what}: ${e.message}`);
  }

  /** Waits; rejects with Stopped when rackboot stops or the cluster's formation is aborted. */
  private sleep(c: Cluster, ms: number): Promise<void> {
    const signal = this.aborts.get(c.id)?.signal;
    if (this.stopping || signal?.aborted === true) return Promise.reject(new Stopped());
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(t);
        this.wakers.delete(wake);
        signal?.removeEventListener('abort', wake);
        if (this.stopping || signal?.aborted === true) reject(new Stopped());
        else resolve();
      };
      const t = setTimeout(wake, ms);
      this.wakers.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  /** One entry in the cluster's timeline and in each named machine's. */
  private async note(c: Cluster, machineIds: string[], kind: string, outcome: 'ok' | 'error' | 'info', message: string, detail?: Record<string, unknown>): Promise<void> {
    try {
      await this.d.clusters.appendEvent({ clusterId: c.id, kind, outcome, message, ...(detail === undefined ? {} : { detail }) });
    } catch (err) {
      this.d.log.error({ err, cluster: c.name }, 'could not record cluster event');
    }
    for (const id of machineIds) {
      await this.d.timeline.record({ machineId: id, mac: null, source: 'enrollment', kind, outcome, message, detail: { cluster: c.name, ...detail } });
    }
  }
}

type NodeOwner = Pick<HostInfo, 'machine' | 'hostName' | 'address'>;

function matchNode<H extends NodeOwner>(n: NodeView, hosts: H[]): H | undefined {
  return hosts.find((h) => (h.hostName !== '' && h.hostName === n.name) || h.machine.network?.hostname === n.name || h.machine.name === n.name || (h.address !== '' && n.internalIps.includes(h.address)));
}

async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest('hex'), size };
}
