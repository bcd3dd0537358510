import type { Artifact, NewArtifact } from '../artifacts/artifact.js';
import type { Cluster, ClusterEvent, ClusterState, ClusterStep, NewCluster } from '../enrollment/cluster.js';
import type { Machine, NewMachine } from '../inventory/machine.js';
import type { MachineState } from '../lifecycle/states.js';
import type { BmcRecord, NewBmcRecord } from '../provisioning/bmc-record.js';

// The storage contract. Every method is atomic on its own, so a PostgreSQL backend can implement it
// with one transaction per call; SQLite is the embedded default.

export class StoreError extends Error {
  constructor(
    readonly code: 'RB_CONFLICT' | 'RB_NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

export interface MachineFilter {
  state?: MachineState;
  tag?: string;
  rack?: string;
  role?: string;
  profile?: string;
  /** Case-insensitive. */
  bmcVendor?: string;
  /** Members of this cluster (by id). */
  clusterId?: string;
  limit?: number;
  offset?: number;
}

export type MachinePatch = Partial<Omit<NewMachine, 'state'>> & { state?: MachineState };

export interface MachineRepo {
  /** Fails with RB_CONFLICT when the name, a MAC or the UUID already belongs to another machine. */
  create(m: NewMachine): Promise<Machine>;
  /** All or nothing. */
  createMany(ms: NewMachine[]): Promise<Machine[]>;
  get(id: string): Promise<Machine | null>;
  findByName(name: string): Promise<Machine | null>;
  findByMac(mac: string): Promise<Machine | null>;
  /** Matches the stored UUID in either byte order. */
  findByUuid(uuid: string): Promise<Machine | null>;
  list(filter?: MachineFilter): Promise<{ items: Machine[]; total: number }>;
  update(id: string, patch: MachinePatch): Promise<Machine>;
  rotateToken(id: string): Promise<Machine>;
  /**
   * Compare-and-set of the lifecycle state: moves the machine to `to` only if its state is one of
   * `from`, stamping the entry time and reason. Returns null when the state did not match.
   */
  transition(id: string, from: readonly MachineState[], to: MachineState, reason: string | null): Promise<Machine | null>;
  /** Machines in any of these states, for the stage-timeout watchdog. */
  inStates(states: readonly MachineState[]): Promise<Machine[]>;
  delete(id: string): Promise<boolean>;
}

export type LeaseState = 'offered' | 'bound' | 'declined';

export interface Lease {
  ip: string;
  mac: string;
  clientId: string | null;
  machineId: string | null;
  state: LeaseState;
  expiresAt: number; // epoch ms
  hostname: string | null;
}

export interface LeaseRepo {
  all(): Promise<Lease[]>;
  put(lease: Lease): Promise<void>;
  remove(ip: string): Promise<void>;
}

export type EventSource = 'dhcp' | 'pxe' | 'tftp' | 'http' | 'callback' | 'lifecycle' | 'api' | 'bmc' | 'enrollment' | 'maas';
export type EventOutcome = 'ok' | 'error' | 'info';

export interface NewEvent {
  machineId: string | null;
  mac: string | null;
  source: EventSource;
  kind: string;
  outcome: EventOutcome;
  message: string;
  detail?: Record<string, unknown>;
}

export interface StoredEvent extends NewEvent {
  id: number;
  ts: string;
}

export interface EventRepo {
  append(ev: NewEvent): Promise<StoredEvent>;
  listForMachine(machineId: string, opts?: { afterId?: number; limit?: number }): Promise<StoredEvent[]>;
  /** Every machine's events after an id, in id order: what an event stream resumes from. */
  listAfter(afterId: number, limit: number): Promise<StoredEvent[]>;
  /** The newest event id, 0 when there is none. */
  lastId(): Promise<number>;
  /** Attaches events recorded under a MAC before the machine was known (discovery) to that machine. */
  adoptByMac(mac: string, machineId: string): Promise<number>;
  /**
   * Deletes up to `limit` of the oldest events recorded before `before` (ISO time), except those of
   * source `lifecycle` (a machine's state history); returns how many went.
   */
  pruneBefore(before: string, limit: number): Promise<number>;
}

export interface ArtifactRepo {
  /** Fails with RB_CONFLICT when the name is taken. */
  create<A extends NewArtifact>(a: A): Promise<A & { id: string; createdAt: string }>;
  get(id: string): Promise<Artifact | null>;
  findByName(name: string): Promise<Artifact | null>;
  list(): Promise<Artifact[]>;
  delete(id: string): Promise<boolean>;
}

export interface ClusterFilter {
  state?: ClusterState;
  limit?: number;
  offset?: number;
}

export interface ClusterRepo {
  /** Fails with RB_CONFLICT when the name is taken or a machine already belongs to a cluster. */
  create(c: NewCluster): Promise<Cluster>;
  get(id: string): Promise<Cluster | null>;
  findByName(name: string): Promise<Cluster | null>;
  list(filter?: ClusterFilter): Promise<{ items: Cluster[]; total: number }>;
  inState(state: ClusterState): Promise<Cluster[]>;
  /** Compare-and-set of the cluster state, like MachineRepo.transition. */
  transition(id: string, from: readonly ClusterState[], to: ClusterState, reason: string | null): Promise<Cluster | null>;
  /**
   * A failed cluster forms again: back to `forming`, and every step not done starts its time limit
   * afresh (done steps stay done). Null when the cluster is not failed.
   */
  reopen(id: string): Promise<Cluster | null>;
  /** Forgets a cluster that is not forming, with its members and steps (its events stay). False when forming or gone. */
  deleteEnded(id: string): Promise<boolean>;
  setLeader(id: string, machineId: string): Promise<void>;
  /** Stores the kubeconfig sealed (never in clear). */
  setSealedKubeconfig(id: string, sealed: string): Promise<void>;
  sealedKubeconfig(id: string): Promise<string | null>;
  step(id: string, step: string, machineId?: string): Promise<ClusterStep | null>;
  steps(id: string): Promise<ClusterStep[]>;
  /** Records that a step is about to act (attempts + 1); the first start time is kept. */
  beginStep(id: string, step: string, machineId: string, detail?: Record<string, unknown>): Promise<ClusterStep>;
  finishStep(id: string, step: string, machineId: string, detail?: Record<string, unknown>): Promise<ClusterStep>;
  appendEvent(ev: Omit<ClusterEvent, 'id' | 'ts'>): Promise<ClusterEvent>;
  events(id: string, opts?: { afterId?: number; limit?: number }): Promise<ClusterEvent[]>;
  /** Every cluster's events after an id, in id order: what an event stream resumes from. */
  eventsAfter(afterId: number, limit: number): Promise<ClusterEvent[]>;
  /** The newest cluster event id, 0 when there is none. */
  lastEventId(): Promise<number>;
  /** SHA-256 fingerprint of a machine's Local API certificate, pinned on first contact. */
  pin(machineId: string): Promise<string | null>;
  setPin(machineId: string, fingerprint: string): Promise<void>;
}

export type ApiRole = 'admin' | 'viewer';

export interface ApiToken {
  id: string;
  name: string;
  role: ApiRole;
  createdAt: string;
  revokedAt: string | null;
}

export interface ApiTokenRepo {
  /** Stores only the SHA-256 of the secret. Fails with RB_CONFLICT when the name is taken. */
  create(t: { name: string; role: ApiRole; secretSha256: string }): Promise<ApiToken>;
  /** The live (not revoked) token whose secret has this SHA-256. */
  findBySecretSha256(sha256: string): Promise<ApiToken | null>;
  list(): Promise<ApiToken[]>;
  /** Returns the revoked token, or null when no live token has that name. */
  revoke(name: string): Promise<ApiToken | null>;
}

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface NewAuditEntry {
  /** Who: the API token's name, `cli:<user>` for commands run on the host, `rackboot` for the service itself. */
  actor: string;
  role: ApiRole | null;
  /** What: `METHOD /route/pattern` for API calls, `tokens create` and the like for commands. */
  action: string;
  /** The resource acted on (a machine id, a token name), when there is one. */
  target: string | null;
  /** The HTTP status answered, for API calls. */
  status: number | null;
  outcome: AuditOutcome;
  detail?: Record<string, unknown>;
}

export interface AuditEntry extends NewAuditEntry {
  id: number;
  ts: string;
}

export interface AuditFilter {
  actor?: string;
  target?: string;
  limit: number;
  offset: number;
}

export interface AuditRepo {
  append(e: NewAuditEntry): Promise<AuditEntry>;
  /** Newest first. */
  list(f: AuditFilter): Promise<{ items: AuditEntry[]; total: number }>;
}

export interface BmcRepo {
  /** Creates or replaces the BMC of a machine (one BMC per machine). */
  put(r: NewBmcRecord): Promise<BmcRecord>;
  get(machineId: string): Promise<BmcRecord | null>;
  list(): Promise<BmcRecord[]>;
  delete(machineId: string): Promise<boolean>;
}

export interface Store {
  readonly apiTokens: ApiTokenRepo;
  readonly audit: AuditRepo;
  readonly clusters: ClusterRepo;
  readonly artifacts: ArtifactRepo;
  readonly bmcs: BmcRepo;
  readonly machines: MachineRepo;
  readonly leases: LeaseRepo;
  readonly events: EventRepo;
  close(): Promise<void>;
}
