import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ClusterFormation } from '../enrollment/formation.js';
import { ClusterInputSchema } from '../enrollment/cluster.js';
import { defineCluster } from '../enrollment/define-cluster.js';
import type { ClusterRepo, MachineRepo } from '../store/types.js';
import { sendProblem } from './problem.js';

export interface ClusterRouteDeps {
  clusters: ClusterRepo;
  machines: MachineRepo;
  formation: ClusterFormation;
}

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const EventsQuery = Type.Object({ after: Type.Integer({ minimum: 0, default: 0 }), limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }) });

/** Clusters as the API shows them: members with their machine state, steps; never the kubeconfig. */
export async function clusterRoutes(app: FastifyInstance, deps: ClusterRouteDeps): Promise<void> {
  const view = async (id: string) => {
    const c = await deps.clusters.get(id);
    if (c === null) return null;
    const members = await Promise.all(
      c.members.map(async (m) => {
        const machine = await deps.machines.get(m.machineId);
        return { ...m, name: machine?.name ?? null, state: machine?.state ?? null };
      }),
    );
    return { ...c, members, steps: await deps.clusters.steps(id) };
  };

  app.post('/api/v1/clusters', { config: { documentedBody: { 'application/json': ClusterInputSchema } } }, async (req, reply) => {
    const r = await defineCluster(deps.clusters, deps.machines, req.body);
    if (!r.ok) {
      req.log.info({ issues: r.issues }, 'cluster definition rejected');
      return sendProblem(reply, r.status, r.status === 409 ? 'Conflict' : 'Invalid cluster', r.message, r.issues.length > 0 ? r.issues : undefined);
    }
    deps.formation.start(r.cluster.id);
    return reply.code(201).send(await view(r.cluster.id));
  });

  app.get('/api/v1/clusters', async () => {
    const items = await Promise.all((await deps.clusters.list()).map((c) => view(c.id)));
    return { items: items.filter((c) => c !== null), total: items.length };
  });

  app.get('/api/v1/clusters/:id', { schema: { params: IdParams } }, async (req, reply) => {
    const c = await view((req.params as { id: string }).id);
    return c ?? sendProblem(reply, 404, 'Not found', 'no such cluster');
  });

  app.get('/api/v1/clusters/:id/events', { schema: { params: IdParams, querystring: EventsQuery } }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    if ((await deps.clusters.get(id)) === null) return sendProblem(reply, 404, 'Not found', 'no such cluster');
    const q = req.query as { after: number; limit: number };
    const items = await deps.clusters.events(id, { afterId: q.after, limit: q.limit });
    return { items, next: items.length > 0 ? items[items.length - 1]!.id : q.after };
  });
}
