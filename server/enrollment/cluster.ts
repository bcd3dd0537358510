// The `cluster` object: which installed machines form one management cluster and with what
// settings. Operators name machines; the store keeps their ids.

import { Type, type Static } from '@sinclair/typebox';
import { PackBundleSchema, type PackBundle } from '../packs/pack-target.js';

const Ipv4 = Type.String({ pattern: '^(\\d{1,3}\\.){3}\\d{1,3}$' });
const MachineRef = Type.String({ minLength: 1, maxLength: 64, description: 'machine name or id' });

export const ClusterInputSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
    controlPlane: Type.Array(MachineRef, { minItems: 1, maxItems: 3, description: '1 or 3 machines' }),
    workers: Type.Optional(Type.Array(MachineRef, { maxItems: 100 })),
    vip: Ipv4,
    ntpServers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 8 })),
    sshKeys: Type.Optional(Type.Array(Type.String({ pattern: '^(ssh-|ecdsa-|sk-)[^\\r\\n]+$' }), { maxItems: 32 })),
    profileVariables: Type.Optional(
      Type.Array(Type.Object({ name: Type.String({ minLength: 1 }), value: Type.String(), profileUid: Type.Optional(Type.String()) }, { additionalProperties: false }), { maxItems: 256 }),
    ),
    contentBundle: Type.String({ pattern: '^/', description: 'absolute path of the content bundle (.tar/.zst) on the rackboot host' }),
    packs: Type.Optional(PackBundleSchema),
  },
  { additionalProperties: false },
);
export type ClusterInput = Static<typeof ClusterInputSchema>;

export type ClusterRole = 'control-plane' | 'worker';

export interface ClusterSpec {
  vip: string;
  ntpServers: string[];
  sshKeys: string[];
  profileVariables: { name: string; value: string; profileUid?: string }[];
  contentBundle: string;
  packs?: PackBundle;
}

export const CLUSTER_STATES = ['forming', 'enrolled', 'failed'] as const;
export type ClusterState = (typeof CLUSTER_STATES)[number];

export interface ClusterMember {
  machineId: string;
  role: ClusterRole;
}

export interface Cluster {
  id: string;
  name: string;
  spec: ClusterSpec;
  members: ClusterMember[];
  state: ClusterState;
  stateReason: string | null;
  stateEnteredAt: string;
  leaderMachineId: string | null;
  hasKubeconfig: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface NewCluster {
  name: string;
  spec: ClusterSpec;
  members: ClusterMember[];
}

/** One persisted formation step. `machineId` is '' for cluster-wide steps. */
export interface ClusterStep {
  clusterId: string;
  step: string;
  machineId: string;
  status: 'started' | 'done';
  attempts: number;
  detail: Record<string, unknown>;
  startedAt: string;
  finishedAt: string | null;
}

export interface ClusterEvent {
  id: number;
  clusterId: string;
  ts: string;
  kind: string;
  outcome: 'ok' | 'error' | 'info';
  message: string;
  detail?: Record<string, unknown>;
}
