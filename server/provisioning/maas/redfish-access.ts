// The MAAS side of redfish-via-maas: MAAS already holds each machine's BMC address and credentials
// (power_parameters), so rackboot reads them from there, claims the machine in MAAS so nobody deploys
// it meanwhile, installs through Redfish virtual media, and gives the machine back on teardown.

import {
  MAAS_STATUS,
  allocateMachine,
  lockMachine,
  readMachine,
  readPowerParameters,
  releaseMachine,
  unlockMachine,
  type MaasClient,
} from '../../../maas/index.js';

/** BMC access for the Redfish layer. Holds a password: never log it, record it or return it from the API. */
export interface RedfishAccess {
  systemId: string;
  /** `https://<power_address>` (MAAS stores a host or IP; a scheme, if present, is kept). */
  endpoint: string;
  username: string;
  password: string;
  /** Redfish System member id when MAAS has one (optional in MAAS). */
  nodeId: string | null;
}

export type AccessResult = { ok: true; access: RedfishAccess } | { ok: false; reason: string };

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/** Reads the machine's Redfish power parameters (admin API key needed). */
export async function readRedfishAccess(client: MaasClient, systemId: string): Promise<AccessResult> {
  const m = await readMachine(client, systemId);
  if (!m.ok) return { ok: false, reason: m.error.message };
  if (m.value.power_type !== 'redfish') {
    return { ok: false, reason: `MAAS machine ${systemId} has power_type '${m.value.power_type ?? 'none'}', not 'redfish'; redfish-via-maas needs a Redfish BMC` };
  }
  const p = await readPowerParameters(client, systemId);
  if (!p.ok) return { ok: false, reason: p.error.message };
  const address = str(p.value['power_address']);
  const username = str(p.value['power_user']);
  const password = typeof p.value['power_pass'] === 'string' ? p.value['power_pass'] : null;
  const missing = [address === null ? 'power_address' : null, username === null ? 'power_user' : null, password === null ? 'power_pass' : null].filter((x) => x !== null);
  if (missing.length > 0) return { ok: false, reason: `MAAS machine ${systemId} lacks Redfish power parameters: ${missing.join(', ')}` };
  const endpoint = /^https?:\/\//.test(address!) ? address!.replace(/\/+$/, '') : `https://${address!}`;
  return { ok: true, access: { systemId, endpoint, username: username!, password: password!, nodeId: str(p.value['node_id']) } };
}

export type ClaimResult = { ok: true; locked: boolean; note: string } | { ok: false; reason: string };

/**
 * Takes the machine out of MAAS's pool for the install: allocates it to rackboot's agent (so MAAS will
 * not hand it to anyone else) and locks it when MAAS allows (MAAS locks only Deployed or Deploying
 * machines; a Ready machine stays Allocated, which is what keeps others off it).
 */
export async function claimInMaas(client: MaasClient, systemId: string, agentName: string, comment: string): Promise<ClaimResult> {
  const cur = await readMachine(client, systemId);
  if (!cur.ok) return { ok: false, reason: cur.error.message };
  let status = cur.value.status;
  if (cur.value.locked === true) return { ok: true, locked: true, note: `already locked in MAAS (${cur.value.status_name})` };
  if (status === MAAS_STATUS.READY) {
    const a = await allocateMachine(client, { system_id: systemId, agent_name: agentName, comment });
    if (!a.ok) return { ok: false, reason: `MAAS allocate: ${a.error.message}` };
    status = a.value.status;
  }
  if (status === MAAS_STATUS.DEPLOYED || status === MAAS_STATUS.DEPLOYING) {
    const l = await lockMachine(client, systemId, { comment });
    if (!l.ok) return { ok: false, reason: `MAAS lock: ${l.error.message}` };
    return { ok: true, locked: true, note: `locked in MAAS (${l.value.status_name})` };
  }
  if (status === MAAS_STATUS.ALLOCATED) return { ok: true, locked: false, note: 'allocated to rackboot in MAAS (MAAS locks only deployed machines)' };
  return { ok: false, reason: `MAAS machine ${systemId} is '${cur.value.status_name}'; it must be Ready, Allocated or Deployed to be claimed` };
}

export type ReleaseResult = { ok: true; unlocked: boolean; released: boolean } | { ok: false; reason: string };

/** Teardown: unlock if locked, then release (a machine already Ready is left as it is). */
export async function releaseInMaas(client: MaasClient, systemId: string, comment: string): Promise<ReleaseResult> {
  const cur = await readMachine(client, systemId);
  if (!cur.ok) return { ok: false, reason: cur.error.message };
  let unlocked = false;
  if (cur.value.locked === true) {
    const u = await unlockMachine(client, systemId, { comment });
    if (!u.ok) return { ok: false, reason: `MAAS unlock: ${u.error.message}` };
    unlocked = true;
  }
  if (cur.value.status === MAAS_STATUS.READY || cur.value.status === MAAS_STATUS.RELEASING || cur.value.status === MAAS_STATUS.DISK_ERASING) {
    return { ok: true, unlocked, released: false };
  }
  const r = await releaseMachine(client, systemId, { comment });
  if (!r.ok) return { ok: false, reason: `MAAS release: ${r.error.message}` };
  return { ok: true, unlocked, released: true };
}
