// Machine operations (canonical/maas src/maasserver/api/machines.py and nodes.py, 3.6). Read-only ops
// are GETs, mutating ops POSTs, with `?op=<name>` in the query string and form bodies.

import type { MaasClient } from './client.js';
import { seg, type FormParams, type FormScalar } from './encoding.js';
import { fail, ok, type MaasError, type MaasResult } from './errors.js';
import {
  checkSchema,
  MachineListSchema,
  MachineOrNullSchema,
  MachineSchema,
  PowerParametersBulkSchema,
  PowerParametersSchema,
  PowerStateSchema,
  TagUpdateNodesSchema,
  type MaasMachine,
} from './schema.js';
import { describeStatus, isMaasStatusCode, statusFilterName, type MaasStatusFilter } from './status.js';

type OneOrMany<T> = T | readonly T[];

/**
 * Server-side filters of `GET /machines/` (ReadNodesForm). Every value may be a list, sent as repeated
 * keys (match any; `tags` must all match). `status` takes filter names ('deployed', 'failed_deployment')
 * or numeric codes, which are converted. Unknown keys are refused by MAAS with 400 "No such constraint.".
 */
export interface MachineFilter {
  id?: OneOrMany<string>;
  hostname?: OneOrMany<string>;
  mac_address?: OneOrMany<string>;
  tags?: OneOrMany<string>;
  not_tags?: OneOrMany<string>;
  pool?: OneOrMany<string>;
  not_in_pool?: OneOrMany<string>;
  zone?: OneOrMany<string>;
  not_in_zone?: OneOrMany<string>;
  status?: OneOrMany<MaasStatusFilter | number>;
  not_status?: OneOrMany<MaasStatusFilter | number>;
  agent_name?: OneOrMany<string>;
  owner?: OneOrMany<string>;
  domain?: OneOrMany<string>;
  arch?: OneOrMany<string>;
}

function statusValues(v: OneOrMany<MaasStatusFilter | number> | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]) as (MaasStatusFilter | number)[];
  return list.map((s) => (typeof s === 'number' ? (isMaasStatusCode(s) ? statusFilterName(s) : String(s)) : s));
}

function listParams(f: MachineFilter): FormParams {
  const { status, not_status, ...rest } = f;
  return { ...(rest as FormParams), status: statusValues(status), not_status: statusValues(not_status) };
}

const machinePath = (systemId: string): string => `machines/${seg(systemId)}/`;

/** `GET /machines/` with filters. Returns MAAS's bare array, ordered by id. */
export function listMachines(client: MaasClient, filter: MachineFilter = {}): Promise<MaasResult<MaasMachine[]>> {
  return client.json({ method: 'GET', path: 'machines/', query: listParams(filter) }, MachineListSchema, 'machine list');
}

/** `GET /machines/{system_id}/`: the cheap way to poll one machine. */
export function readMachine(client: MaasClient, systemId: string): Promise<MaasResult<MaasMachine>> {
  return client.json({ method: 'GET', path: machinePath(systemId) }, MachineSchema, 'machine');
}

/**
 * A wrong-state 409 carries only MAAS's sentence; re-read the machine so the error names its actual
 * status (falling back to the status parsed from the sentence when the re-read fails).
 */
async function withMachineStatus<T>(client: MaasClient, systemId: string, r: MaasResult<T>): Promise<MaasResult<T>> {
  if (r.ok || r.error.code !== 'RB_MAAS_WRONG_STATE') return r;
  const e: MaasError = { ...r.error, systemId };
  const cur = await readMachine(client, systemId);
  if (cur.ok) e.machineStatus = { status: cur.value.status, name: describeStatus(cur.value.status, cur.value.status_name).name };
  const st = e.machineStatus;
  const sentence = e.body?.trim() ?? '';
  e.message =
    `MAAS refused ${e.op ?? 'the operation'} on machine ${systemId}` +
    (st ? ` in status '${st.name}'${st.status !== null ? ` (${st.status})` : ''}` : '') +
    (sentence !== '' ? `: ${sentence}` : '');
  return fail(e);
}

async function machineOp(client: MaasClient, systemId: string, op: string, form: FormParams): Promise<MaasResult<MaasMachine>> {
  const r = await client.json({ method: 'POST', path: machinePath(systemId), op, form }, MachineSchema, `machine (${op})`);
  return withMachineStatus(client, systemId, r);
}

export interface AllocateOptions {
  system_id?: string;
  /** Hostname or FQDN (the parameter is `name`, not `hostname`: python-libmaas#30). */
  name?: string;
  /** All must match. */
  tags?: OneOrMany<string>;
  not_tags?: OneOrMany<string>;
  pool?: string;
  not_in_pool?: OneOrMany<string>;
  zone?: string;
  not_in_zone?: OneOrMany<string>;
  arch?: OneOrMany<string>;
  cpu_count?: number;
  /** Minimum memory in MB. */
  mem?: number;
  /** Lets you list your machines later with `agent_name=`. */
  agent_name?: string;
  comment?: string;
  dry_run?: boolean;
}

/**
 * `POST /machines/?op=allocate`. No match is RB_MAAS_NO_MATCH (409 NodesNotAvailable); an unknown
 * tag, pool or zone is RB_MAAS_BAD_REQUEST with `fields`.
 */
export function allocateMachine(client: MaasClient, opts: AllocateOptions = {}): Promise<MaasResult<MaasMachine>> {
  return client.json({ method: 'POST', path: 'machines/', op: 'allocate', form: { ...opts } }, MachineSchema, 'allocated machine');
}

export interface DeployOptions {
  /** `noble`, `ubuntu/noble`, `custom/<name>`... Always send an imported one (terraform-provider-maas#132). */
  distro_series: string;
  /**
   * Joined with a bare distro_series as `<osystem>/<series>` (the deploy op has no separate osystem
   * field). Ignored when distro_series already contains '/'.
   */
  osystem?: string;
  /** Raw user data (e.g. a `#cloud-config` document); sent base64-encoded as MAAS documents. */
  userData?: string | Uint8Array;
  /** Already base64-encoded user data (used when userData is absent). */
  userDataBase64?: string;
  /** Not for dd images. */
  hwe_kernel?: string;
  agent_name?: string;
  comment?: string;
  ephemeral_deploy?: boolean;
  enable_hw_sync?: boolean;
}

export function encodeUserData(data: string | Uint8Array): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString('base64');
}

/**
 * `POST /machines/{id}/?op=deploy`. Legal from Ready (MAAS allocates implicitly) or Allocated; any
 * other status is RB_MAAS_WRONG_STATE naming it. MAAS 3.x answers with the machine already Deploying.
 */
export function deployMachine(client: MaasClient, systemId: string, opts: DeployOptions): Promise<MaasResult<MaasMachine>> {
  const series =
    opts.osystem !== undefined && opts.osystem !== '' && !opts.distro_series.includes('/')
      ? `${opts.osystem}/${opts.distro_series}`
      : opts.distro_series;
  const form: Record<string, FormScalar | undefined> = {
    distro_series: series,
    user_data: opts.userData !== undefined ? encodeUserData(opts.userData) : opts.userDataBase64,
    hwe_kernel: opts.hwe_kernel,
    agent_name: opts.agent_name,
    comment: opts.comment,
    ephemeral_deploy: opts.ephemeral_deploy,
    enable_hw_sync: opts.enable_hw_sync,
  };
  return machineOp(client, systemId, 'deploy', form);
}

export interface ReleaseOptions {
  comment?: string;
  erase?: boolean;
  secure_erase?: boolean;
  quick_erase?: boolean;
  force?: boolean;
}

/** `?op=release`: Releasing (or Disk erasing) then Ready. A Ready or Releasing machine is a no-op success. */
export function releaseMachine(client: MaasClient, systemId: string, opts: ReleaseOptions = {}): Promise<MaasResult<MaasMachine>> {
  return machineOp(client, systemId, 'release', { ...opts });
}

/** `?op=abort`: a Deploying machine is powered off and goes back to Allocated. */
export function abortMachine(client: MaasClient, systemId: string, opts: { comment?: string } = {}): Promise<MaasResult<MaasMachine>> {
  return machineOp(client, systemId, 'abort', { ...opts });
}

/** `?op=mark_broken` (you must own the machine). */
export function markBroken(client: MaasClient, systemId: string, opts: { comment?: string } = {}): Promise<MaasResult<MaasMachine>> {
  return machineOp(client, systemId, 'mark_broken', { ...opts });
}

/** `?op=mark_fixed` (admin; 409 unless Broken). Back to Ready, or Deployed if it was Deployed. */
export function markFixed(client: MaasClient, systemId: string, opts: { comment?: string } = {}): Promise<MaasResult<MaasMachine>> {
  return machineOp(client, systemId, 'mark_fixed', { ...opts });
}

/** `?op=lock`: only a Deployed or Deploying machine; a locked machine refuses edits with 403. */
export function lockMachine(client: MaasClient, systemId: string, opts: { comment?: string } = {}): Promise<MaasResult<MaasMachine>> {
  return machineOp(client, systemId, 'lock', { ...opts });
}

export function unlockMachine(client: MaasClient, systemId: string, opts: { comment?: string } = {}): Promise<MaasResult<MaasMachine>> {
  return machineOp(client, systemId, 'unlock', { ...opts });
}

/** `?op=power_on` (409 if the machine is not allocated). */
export function powerOn(
  client: MaasClient,
  systemId: string,
  opts: { userData?: string | Uint8Array; comment?: string } = {},
): Promise<MaasResult<MaasMachine>> {
  return machineOp(client, systemId, 'power_on', {
    user_data: opts.userData !== undefined ? encodeUserData(opts.userData) : undefined,
    comment: opts.comment,
  });
}

/** `?op=power_off`. Resolves null when MAAS sent no power action (it answers `null`, e.g. manual power). */
export async function powerOff(
  client: MaasClient,
  systemId: string,
  opts: { stop_mode?: 'hard' | 'soft'; comment?: string } = {},
): Promise<MaasResult<MaasMachine | null>> {
  const r = await client.request({ method: 'POST', path: machinePath(systemId), op: 'power_off', form: { ...opts } });
  if (!r.ok) return withMachineStatus(client, systemId, r);
  if (r.value.status === 204 || r.value.text.trim() === '' || r.value.text.trim() === 'null') return ok(null);
  return checkSchema(MachineOrNullSchema, r.value.json, 'machine (power_off)');
}

export type PowerState = 'on' | 'off' | 'unknown' | 'error';

/** `GET ?op=query_power_state`: asks the BMC (MAAS waits up to 60 s); 503 PowerProblem, 504 RPC timeout. */
export async function queryPowerState(client: MaasClient, systemId: string, opts: { timeoutMs?: number } = {}): Promise<MaasResult<PowerState | string>> {
  const r = await client.json(
    { method: 'GET', path: machinePath(systemId), op: 'query_power_state', timeoutMs: opts.timeoutMs },
    PowerStateSchema,
    'power state',
  );
  return r.ok ? ok(r.value.state) : r;
}

/** `GET machines/{id}/?op=power_parameters` (admin; contains BMC secrets, do not log). */
export function readPowerParameters(client: MaasClient, systemId: string): Promise<MaasResult<Record<string, unknown>>> {
  return client.json({ method: 'GET', path: machinePath(systemId), op: 'power_parameters' }, PowerParametersSchema, 'power parameters');
}

/** `GET machines/?op=power_parameters&id=a&id=b`: system_id -> parameters. No ids means every machine. */
export function readPowerParametersBulk(client: MaasClient, systemIds: readonly string[]): Promise<MaasResult<Record<string, Record<string, unknown>>>> {
  return client.json(
    { method: 'GET', path: 'machines/', op: 'power_parameters', query: { id: systemIds } },
    PowerParametersBulkSchema,
    'power parameters by machine',
  );
}

/** `POST tags/{name}/?op=update_nodes` with repeated `add` / `remove` system ids (admin). */
export function updateTagNodes(
  client: MaasClient,
  tag: string,
  change: { add?: readonly string[]; remove?: readonly string[] },
): Promise<MaasResult<{ added: number; removed: number }>> {
  return client.json(
    { method: 'POST', path: `tags/${seg(tag)}/`, op: 'update_nodes', form: { add: change.add, remove: change.remove } },
    TagUpdateNodesSchema,
    'tag update',
  );
}

export function addTag(client: MaasClient, tag: string, systemIds: readonly string[]): Promise<MaasResult<{ added: number; removed: number }>> {
  return updateTagNodes(client, tag, { add: systemIds });
}

export function removeTag(client: MaasClient, tag: string, systemIds: readonly string[]): Promise<MaasResult<{ added: number; removed: number }>> {
  return updateTagNodes(client, tag, { remove: systemIds });
}
