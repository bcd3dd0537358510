// Turns an operator's cluster definition into a stored cluster: machines named by name or id,
// 1 or 3 control-plane nodes, each machine installed (or further) with a known address and in no
// other cluster, and a readable content bundle.

import { stat } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import type { Machine } from '../inventory/machine.js';
import { MACHINE_STATES } from '../lifecycle/states.js';
import { packBundleIssues } from '../packs/pack-target.js';
import { dottedPath } from '../schema/issue-path.js';
import { StoreError, type ClusterRepo, type MachineRepo } from '../store/types.js';
import { ClusterInputSchema, type Cluster, type ClusterInput, type ClusterMember } from './cluster.js';

export interface DefineIssue {
  field: string;
  message: string;
}

export type DefineResult = { ok: true; cluster: Cluster } | { ok: false; status: 409 | 422; message: string; issues: DefineIssue[] };

export async function defineCluster(clusters: ClusterRepo, machines: MachineRepo, body: unknown): Promise<DefineResult> {
  if (!Value.Check(ClusterInputSchema, body)) {
    const issues = [...Value.Errors(ClusterInputSchema, body)].slice(0, 10).map((e) => ({ field: dottedPath(e.path), message: e.message }));
    return { ok: false, status: 422, message: 'the cluster definition has invalid fields', issues };
  }
  const input: ClusterInput = body;
  const issues: DefineIssue[] = [];
  if (input.controlPlane.length !== 1 && input.controlPlane.length !== 3) {
    issues.push({ field: 'controlPlane', message: `give 1 or 3 control-plane machines, not ${input.controlPlane.length}` });
  }
  const members: ClusterMember[] = [];
  const seen = new Set<string>();
  const installed = MACHINE_STATES.indexOf('installed');
  const refs = [...input.controlPlane.map((r, i) => ({ r, field: `controlPlane.${i}`, role: 'control-plane' as const })), ...(input.workers ?? []).map((r, i) => ({ r, field: `workers.${i}`, role: 'worker' as const }))];
  for (const { r, field, role } of refs) {
    const m: Machine | null = (await machines.findByName(r)) ?? (/^[0-9a-f-]{36}$/.test(r) ? await machines.get(r) : null);
    if (m === null) {
      issues.push({ field, message: `no machine named ${r}` });
      continue;
    }
    if (seen.has(m.id)) {
      issues.push({ field, message: `${m.name} is listed twice` });
      continue;
    }
    seen.add(m.id);
    if (m.state === 'failed' || MACHINE_STATES.indexOf(m.state) < installed) issues.push({ field, message: `${m.name} is ${m.state}; it must be installed first` });
    if (m.network?.ip === undefined) issues.push({ field, message: `${m.name} has no network.ip, so its Local Management API cannot be reached` });
    members.push({ machineId: m.id, role });
  }
  try {
    const st = await stat(input.contentBundle);
    if (!st.isFile()) issues.push({ field: 'contentBundle', message: `${input.contentBundle} is not a file` });
  } catch (e) {
    issues.push({ field: 'contentBundle', message: `cannot read ${input.contentBundle}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
  }
  if (input.packs !== undefined) issues.push(...(await packBundleIssues(input.packs, 'packs')));
  if (issues.length > 0) return { ok: false, status: 422, message: 'the cluster cannot be formed as defined', issues };
  try {
    const cluster = await clusters.create({
      name: input.name,
      members,
      spec: {
        vip: input.vip,
        ntpServers: input.ntpServers ?? [],
        sshKeys: input.sshKeys ?? [],
        profileVariables: input.profileVariables ?? [],
        contentBundle: input.contentBundle,
        ...(input.packs === undefined ? {} : { packs: input.packs }),
      },
    });
    return { ok: true, cluster };
  } catch (e) {
    if (e instanceof StoreError && e.code === 'RB_CONFLICT') return { ok: false, status: 409, message: e.message, issues: [] };
    throw e;
  }
}
