import { EventEmitter } from 'node:events';
import type { ClusterFilter, ClusterRepo } from '../store/types.js';
import type { Cluster, ClusterEvent, ClusterState, NewCluster } from './cluster.js';

/**
 * The cluster repository as the service uses it: every cluster event is announced once stored (for
 * the live event stream), and every state change (creation included) is itself stored as a
 * `cluster.state` event, so the stream can replay state changes like any other event.
 */
export class ClusterFeed extends EventEmitter<{ event: [ClusterEvent] }> implements ClusterRepo {
  constructor(private readonly inner: ClusterRepo) {
    super();
  }

  async create(c: NewCluster): Promise<Cluster> {
    const created = await this.inner.create(c);
    await this.stateEvent(created);
    return created;
  }

  async transition(id: string, from: readonly ClusterState[], to: ClusterState, reason: string | null): Promise<Cluster | null> {
    const moved = await this.inner.transition(id, from, to, reason);
    if (moved !== null) await this.stateEvent(moved);
    return moved;
  }

  async reopen(id: string): Promise<Cluster | null> {
    const reopened = await this.inner.reopen(id);
    if (reopened !== null) await this.stateEvent(reopened);
    return reopened;
  }

  async appendEvent(ev: Omit<ClusterEvent, 'id' | 'ts'>): Promise<ClusterEvent> {
    const stored = await this.inner.appendEvent(ev);
    this.emit('event', stored);
    return stored;
  }

  private async stateEvent(c: Cluster): Promise<void> {
    await this.appendEvent({
      clusterId: c.id,
      kind: 'cluster.state',
      outcome: c.state === 'failed' ? 'error' : 'info',
      message: `cluster ${c.name} is ${c.state}${c.stateReason === null ? '' : `: ${c.stateReason}`}`,
      detail: { cluster: c.name, state: c.state, reason: c.stateReason },
    });
  }

  get(id: string) {
    return this.inner.get(id);
  }
  findByName(name: string) {
    return this.inner.findByName(name);
  }
  list(filter?: ClusterFilter) {
    return this.inner.list(filter);
  }
  deleteEnded(id: string) {
    return this.inner.deleteEnded(id);
  }
  inState(state: ClusterState) {
    return this.inner.inState(state);
  }
  setLeader(id: string, machineId: string) {
    return this.inner.setLeader(id, machineId);
  }
  setSealedKubeconfig(id: string, sealed: string) {
    return this.inner.setSealedKubeconfig(id, sealed);
  }
  sealedKubeconfig(id: string) {
    return this.inner.sealedKubeconfig(id);
  }
  step(id: string, step: string, machineId?: string) {
    return this.inner.step(id, step, machineId);
  }
  steps(id: string) {
    return this.inner.steps(id);
  }
  beginStep(id: string, step: string, machineId: string, detail?: Record<string, unknown>) {
    return this.inner.beginStep(id, step, machineId, detail);
  }
  finishStep(id: string, step: string, machineId: string, detail?: Record<string, unknown>) {
    return this.inner.finishStep(id, step, machineId, detail);
  }
  events(id: string, opts?: { afterId?: number; limit?: number }) {
    return this.inner.events(id, opts);
  }
  eventsAfter(afterId: number, limit: number) {
    return this.inner.eventsAfter(afterId, limit);
  }
  lastEventId() {
    return this.inner.lastEventId();
  }
  pin(machineId: string) {
    return this.inner.pin(machineId);
  }
  setPin(machineId: string, fingerprint: string) {
    return this.inner.setPin(machineId, fingerprint);
  }
}
