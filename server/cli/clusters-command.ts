import { writeFile } from 'node:fs/promises';
import type { Cluster, ClusterEvent, ClusterStep } from '../enrollment/cluster.js';
import type { ApiTarget } from './api-client.js';
import { apiCall, apiOrFail, apiText, CliFailure, describeProblem, listAll } from './api-call.js';
import { oneLine, since, structured, table, type OutputFormat } from './output.js';

/** A cluster as GET /api/v1/clusters/{id} shows it: members carry their machine's name and state. */
export interface ClusterView extends Omit<Cluster, 'members'> {
  members: Array<{ machineId: string; role: string; name: string | null; state: string | null }>;
  steps: ClusterStep[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function allClusters(t: ApiTarget, query: { state?: string } = {}): Promise<ClusterView[]> {
  return listAll<ClusterView>(t, '/api/v1/clusters', query);
}

/** A cluster's id from its name or id, so every command takes either. */
export async function resolveCluster(t: ApiTarget, nameOrId: string): Promise<string> {
  if (UUID.test(nameOrId)) return nameOrId;
  const found = (await allClusters(t)).find((c) => c.name === nameOrId);
  if (found === undefined) throw new CliFailure(`no cluster named '${nameOrId}'`, 1);
  return found.id;
}

/** The formation step under way, or the last one finished: "step (machine)". */
export function formationStep(c: ClusterView): string {
  if (c.steps.length === 0) return c.state === 'forming' ? 'starting' : '-';
  const byTime = [...c.steps].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const running = byTime.filter((s) => s.status === 'started');
  const s = running.length > 0 ? running[running.length - 1]! : byTime[byTime.length - 1]!;
  const who = s.machineId === '' ? null : (c.members.find((m) => m.machineId === s.machineId)?.name ?? s.machineId);
  return `${s.step}${who === null ? '' : ` (${who})`}${s.status === 'done' ? ', done' : ''}`;
}

/** `rackboot clusters [list]`: every cluster with its state, formation step and members. */
export async function listClusters(t: ApiTarget, state: string | undefined, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const items = await allClusters(t, state === undefined ? {} : { state });
  if (format !== 'table') {
    out.write(structured(items, format));
    return 0;
  }
  out.write(
    items.length === 0
      ? 'no clusters\n'
      : table(items, [
          { title: 'name', value: (c) => c.name },
          { title: 'state', value: (c) => c.state },
          { title: 'step', value: (c) => formationStep(c) },
          { title: 'members', value: (c) => c.members.map((m) => `${m.name ?? m.machineId}=${m.state ?? '?'}`).join(' ') },
          { title: 'age', value: (c) => since(c.createdAt), align: 'right' },
        ]),
  );
  return 0;
}

/** `rackboot clusters show NAME|ID`: one cluster, its members and its formation timeline. */
export async function showCluster(t: ApiTarget, nameOrId: string, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const id = await resolveCluster(t, nameOrId);
  const c = await apiOrFail<ClusterView>(t, 'GET', `/api/v1/clusters/${id}`);
  const events: ClusterEvent[] = [];
  for (let after = 0; ; ) {
    const page = await apiOrFail<{ items: ClusterEvent[]; next: number }>(t, 'GET', `/api/v1/clusters/${id}/events?after=${after}&limit=5000`);
    events.push(...page.items);
    if (page.items.length === 0 || page.next === after) break;
    after = page.next;
  }
  if (format !== 'table') {
    out.write(structured({ ...c, events }, format));
    return 0;
  }
  const facts: Array<[string, string | null]> = [
    ['name', c.name],
    ['id', c.id],
    ['state', `${c.state} (for ${since(c.stateEnteredAt)}, since ${c.stateEnteredAt})`],
    ['reason', c.stateReason],
    ['step', formationStep(c)],
    ['vip', c.spec.vip],
    ['created', c.createdAt],
  ];
  for (const [k, v] of facts) if (v !== null && v !== '') out.write(`${`${k}:`.padEnd(9)} ${oneLine(v)}\n`);
  out.write('\nmembers:\n');
  out.write(table(c.members, [
    { title: 'machine', value: (m) => m.name ?? m.machineId },
    { title: 'role', value: (m) => m.role },
    { title: 'state', value: (m) => m.state ?? '?' },
  ]));
  out.write(`\ntimeline (${events.length} events):\n`);
  if (events.length > 0) {
    out.write(table(events, [
      { title: 'time', value: (e) => e.ts },
      { title: 'outcome', value: (e) => e.outcome },
      { title: 'kind', value: (e) => e.kind },
      { title: 'message', value: (e) => oneLine(e.message) },
    ]));
  }
  return 0;
}

/** `rackboot clusters retry|delete NAME|ID`: exit 0 done, 3 refused in the cluster's state (the problem says why), 1 otherwise. */
export async function changeCluster(t: ApiTarget, action: 'retry' | 'delete', nameOrId: string, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const id = await resolveCluster(t, nameOrId);
  const a = action === 'retry' ? await apiCall<ClusterView>(t, 'POST', `/api/v1/clusters/${id}/retry`) : await apiCall<null>(t, 'DELETE', `/api/v1/clusters/${id}`);
  if (!a.ok) throw new CliFailure(describeProblem(a.status, a.problem), a.status === 409 ? 3 : 1);
  if (format !== 'table') out.write(structured(action === 'retry' ? a.body : { id, deleted: true }, format));
  else out.write(action === 'retry' ? `cluster ${nameOrId} is forming again (${formationStep(a.body as ClusterView)})\n` : `cluster ${nameOrId} deleted\n`);
  return 0;
}

/** `rackboot clusters kubeconfig NAME|ID [--file F]`: exit 0 written, 3 when the cluster has none yet, 1 otherwise. */
export async function clusterKubeconfig(t: ApiTarget, nameOrId: string, file: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const id = await resolveCluster(t, nameOrId);
  const a = await apiText(t, `/api/v1/clusters/${id}/kubeconfig`);
  if (!a.ok) throw new CliFailure(describeProblem(a.status, a.problem), a.status === 409 ? 3 : 1);
  if (file === undefined) out.write(a.body);
  else await writeFile(file, a.body, { mode: 0o600 });
  return 0;
}
