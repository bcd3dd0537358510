import type { ApiTarget } from './api-client.js';
import { apiCall, CliFailure, describeProblem } from './api-call.js';
import { structured, table, type OutputFormat } from './output.js';

interface ClusterView {
  id?: string;
  name?: string;
  state?: string;
  members?: unknown[];
  machines?: unknown[];
  createdAt?: string;
}

/** `rackboot clusters`: the clusters being formed or formed, when this rackboot has the cluster API. */
export async function listClusters(t: ApiTarget, format: OutputFormat, out: NodeJS.WritableStream): Promise<number> {
  const a = await apiCall<{ items: ClusterView[] } | ClusterView[]>(t, 'GET', '/api/v1/clusters?limit=1000');
  if (!a.ok) {
    if (a.status === 404 && a.problem.detail?.startsWith('GET /api/v1/clusters')) throw new CliFailure('this rackboot has no cluster API (clusters come with enrollment)', 1);
    throw new CliFailure(describeProblem(a.status, a.problem), 1);
  }
  const items = Array.isArray(a.body) ? a.body : a.body.items;
  if (format !== 'table') {
    out.write(structured(items, format));
    return 0;
  }
  out.write(
    items.length === 0
      ? 'no clusters\n'
      : table(items, [
          { title: 'name', value: (c) => c.name ?? c.id ?? '?' },
          { title: 'state', value: (c) => c.state ?? '-' },
          { title: 'members', value: (c) => String((c.members ?? c.machines ?? []).length), align: 'right' },
          { title: 'created', value: (c) => c.createdAt ?? '-' },
        ]),
  );
  return 0;
}
