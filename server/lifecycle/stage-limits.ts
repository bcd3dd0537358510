// How long a machine may stay in each state before the watchdog fails it: the one table of stage
// timeouts. Install stages count from entering the state. Enrollment stages apply only to members of
// a cluster being formed and count from entering the state or from the start of the formation,
// whichever is later (a machine may sit `installed` for days before a cluster names it).

import type { MachineState } from './states.js';

export interface StageTimeouts {
  provisioningSeconds: number;
  bootingInstallerSeconds: number;
  installingSeconds: number;
  hostReadySeconds: number;
  linkSeconds: number;
  contentUploadSeconds: number;
  contentSyncSeconds: number;
  clusterCreateSeconds: number;
  packsPushSeconds: number;
  nodeReadySeconds: number;
}

export interface StageLimit {
  /** What the machine waits for in this state, for the failure reason. */
  waitingFor: string;
  seconds: (t: StageTimeouts) => number;
  /** Only while the machine is a member of a cluster being formed. */
  enrollment: boolean;
}

export const STAGE_LIMITS: Partial<Record<MachineState, StageLimit>> = {
  provisioning: { waitingFor: 'the installer to boot', seconds: (t) => t.provisioningSeconds, enrollment: false },
  'booting-installer': { waitingFor: 'the install to start', seconds: (t) => t.bootingInstallerSeconds, enrollment: false },
  installing: { waitingFor: 'the install to finish', seconds: (t) => t.installingSeconds, enrollment: false },
  installed: { waitingFor: 'the Local Management API to answer', seconds: (t) => t.hostReadySeconds, enrollment: true },
  'host-ready': { waitingFor: 'linking to the leader', seconds: (t) => t.linkSeconds, enrollment: true },
  linked: { waitingFor: 'the content upload and sync', seconds: (t) => t.contentUploadSeconds + t.contentSyncSeconds, enrollment: true },
  'content-synced': { waitingFor: 'the cluster create', seconds: (t) => t.clusterCreateSeconds, enrollment: true },
  'cluster-member': { waitingFor: 'the cluster to be Running and Healthy', seconds: (t) => t.clusterCreateSeconds, enrollment: true },
  'node-ready': { waitingFor: 'the pack push and the Kubernetes node to be Ready', seconds: (t) => t.packsPushSeconds + t.nodeReadySeconds, enrollment: true },
};
