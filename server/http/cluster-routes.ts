import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { blobCounts, pushClusterPacks } from '../enrollment/cluster-packs.js';
import type { ClusterFormation } from '../enrollment/formation.js';
import { CLUSTER_STATES, ClusterInputSchema, type Cluster, type ClusterState } from '../enrollment/cluster.js';
import { defineCluster } from '../enrollment/define-cluster.js';
import { packBundleIssues, PackBundleSchema, type PackBundle } from '../packs/pack-target.js';
import { dottedPath } from '../schema/issue-path.js';
import type { ClusterRepo, MachineRepo } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import { Pagination, pageOf } from './api-schemas.js';
import { problemResponses } from './openapi.js';
import { sendProblem } from './problem.js';

export interface ClusterRouteDeps {
  clusters: ClusterRepo;
  machines: MachineRepo;
  formation: ClusterFormation;
  timeline: Timeline;
  log: Logger;
}

const tags = ['clusters'];
// Described loosely on purpose: the response serializer keeps every field of the view.
const ClusterView = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.String({ description: 'forming, enrolled or failed' }),
    stateReason: Type.Union([Type.String(), Type.Null()]),
    members: Type.Array(Type.Object({ machineId: Type.String(), role: Type.String(), name: Type.Union([Type.String(), Type.Null()]), state: Type.Union([Type.String(), Type.Null()]) })),
    steps: Type.Array(Type.Object({ step: Type.String(), machineId: Type.String(), status: Type.String() }, { additionalProperties: true })),
    hasKubeconfig: Type.Boolean(),
  },
  { additionalProperties: true, description: 'a cluster with its members and formation steps (never the kubeconfig)' },
);
const ClusterEvents = Type.Object({
  items: Type.Array(Type.Object({ id: Type.Integer(), clusterId: Type.String(), ts: Type.String(), kind: Type.String(), outcome: Type.String(), message: Type.String() }, { additionalProperties: true })),
  next: Type.Integer({ description: 'pass as `after` to read on' }),
});

const PushedPacks = Type.Object({
  registry: Type.String(),
  repository: Type.String(),
  manifests: Type.Array(
    Type.Object({
      tag: Type.String(),
      digest: Type.String(),
      mediaType: Type.String(),
      blobs: Type.Object({ uploaded: Type.Integer(), present: Type.Integer({ description: 'already in the repository: skipped' }), mounted: Type.Integer() }),
    }),
  ),
});

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const ListQuery = Type.Object({ state: Type.Optional(Type.Union(CLUSTER_STATES.map((x) => Type.Literal(x)))), ...Pagination }, { additionalProperties: false });
const EventsQuery = Type.Object({ after: Type.Integer({ minimum: 0, default: 0 }), limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }) });

/** Clusters as the API shows them: members with their machine state, steps; never the kubeconfig. */
export async function clusterRoutes(app: FastifyInstance, deps: ClusterRouteDeps): Promise<void> {
  const withDetail = async (c: Cluster) => {
    const members = await Promise.all(
      c.members.map(async (m) => {
        const machine = await deps.machines.get(m.machineId);
        return { ...m, name: machine?.name ?? null, state: machine?.state ?? null };
      }),
    );
    return { ...c, members, steps: await deps.clusters.steps(c.id) };
  };
  const view = async (id: string) => {
    const c = await deps.clusters.get(id);
    return c === null ? null : withDetail(c);
  };

  app.post(
    '/api/v1/clusters',
    {
      schema: { tags, summary: 'Define a cluster of installed machines and start forming it', response: { 201: ClusterView, ...problemResponses(400, 409, 413, 415, 422) } },
      config: { documentedBody: { 'application/json': ClusterInputSchema } },
    },
    async (req, reply) => {
      const r = await defineCluster(deps.clusters, deps.machines, req.body);
      if (!r.ok) {
        req.log.info({ issues: r.issues }, 'cluster definition rejected');
        return sendProblem(reply, r.status, r.status === 409 ? 'Conflict' : 'Invalid cluster', r.message, r.issues.length > 0 ? r.issues : undefined);
      }
      deps.formation.start(r.cluster.id);
      return reply.code(201).send(await view(r.cluster.id));
    },
  );

  app.get('/api/v1/clusters', { schema: { tags, summary: 'Clusters, forming, enrolled or failed; filtered and paginated', querystring: ListQuery, response: { 200: pageOf(ClusterView), ...problemResponses(400) } } }, async (req) => {
    const q = req.query as { state?: ClusterState; limit: number; offset: number };
    const { items, total } = await deps.clusters.list(q);
    return { items: await Promise.all(items.map(withDetail)), total, limit: q.limit, offset: q.offset };
  });

  app.get(
    '/api/v1/clusters/:id/kubeconfig',
    {
      schema: {
        tags,
        summary: "The cluster's kubeconfig (admin tokens only; every read is in the audit log)",
        params: IdParams,
        response: { 200: { description: 'the kubeconfig the appliance reported', content: { 'application/yaml': { schema: Type.String() } } }, ...problemResponses(400, 404, 409) },
      },
      config: { adminOnly: true },
    },
    async (req, reply) => {
      const c = await deps.clusters.get((req.params as { id: string }).id);
      if (c === null) return sendProblem(reply, 404, 'Not found', 'no such cluster');
      const kubeconfig = await deps.formation.kubeconfig(c);
      if (kubeconfig === undefined) return sendProblem(reply, 409, 'Conflict', `cluster ${c.name} is ${c.state} and has no kubeconfig yet: the appliance reports it once the cluster is Running and Healthy`);
      return reply.type('application/yaml').header('cache-control', 'no-store').send(kubeconfig);
    },
  );

  app.post(
    '/api/v1/clusters/:id/retry',
    { schema: { tags, summary: 'Form a failed cluster again: members that failed after their install go back to installed; done steps are not repeated', params: IdParams, response: { 200: ClusterView, ...problemResponses(400, 404, 409) } } },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const r = await deps.formation.retry(id, `api ${req.principal?.name ?? req.ip}`);
      if (!r.ok) return sendProblem(reply, r.status, r.status === 404 ? 'Not found' : 'Conflict', r.message);
      return view(id);
    },
  );

  app.delete(
    '/api/v1/clusters/:id',
    { schema: { tags, summary: 'Forget a failed or enrolled cluster (409 while forming). A failed one frees its installed members; an enrolled one keeps running, unwatched', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 404, 409) } } },
    async (req, reply) => {
      const r = await deps.formation.forget((req.params as { id: string }).id, `api ${req.principal?.name ?? req.ip}`);
      if (!r.ok) return sendProblem(reply, r.status, r.status === 404 ? 'Not found' : 'Conflict', r.message);
      return reply.code(204).send();
    },
  );

  app.get('/api/v1/clusters/:id', { schema: { tags, summary: 'One cluster', params: IdParams, response: { 200: ClusterView, ...problemResponses(400, 404) } } }, async (req, reply) => {
    const c = await view((req.params as { id: string }).id);
    return c ?? sendProblem(reply, 404, 'Not found', 'no such cluster');
  });

  app.post(
    '/api/v1/clusters/:id/packs',
    {
      schema: {
        tags,
        summary: "Push a pack bundle (OCI image-layout archive on the rackboot host) to the cluster's Zot or another registry; answers when the push has ended",
        params: IdParams,
        response: { 200: PushedPacks, ...problemResponses(400, 404, 409, 413, 415, 422, 502) },
      },
      config: { documentedBody: { 'application/json': PackBundleSchema } },
    },
    async (req, reply) => {
      const c = await deps.clusters.get((req.params as { id: string }).id);
      if (c === null) return sendProblem(reply, 404, 'Not found', 'no such cluster');
      if (!Value.Check(PackBundleSchema, req.body)) {
        const issues = [...Value.Errors(PackBundleSchema, req.body)].slice(0, 10).map((e) => ({ field: dottedPath(e.path), message: e.message }));
        return sendProblem(reply, 422, 'Invalid pack push', 'the pack push has invalid fields', issues);
      }
      const bundle: PackBundle = req.body;
      const issues = await packBundleIssues(bundle, '');
      if (issues.length > 0) {
        req.log.info({ issues }, 'pack push rejected');
        return sendProblem(reply, 422, 'Invalid pack push', 'the pack bundle cannot be pushed as given', issues.map((i) => ({ ...i, field: i.field.replace(/^\./, '') })));
      }
      if (bundle.registry === undefined && c.state !== 'enrolled') {
        return sendProblem(reply, 409, 'Conflict', `cluster ${c.name} is ${c.state}: its Zot is only there once the cluster is enrolled; name a registry to push elsewhere`);
      }
      // A client that goes away ends the push it started.
      const gone = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableEnded) gone.abort('the API client went away');
      });
      const r = await pushClusterPacks({ clusters: deps.clusters, timeline: deps.timeline, log: deps.log }, c, bundle, gone.signal);
      if (!r.ok) return sendProblem(reply, r.kind === 'archive' || r.kind === 'config' ? 422 : 502, r.kind === 'refused' ? 'Registry refused the credentials' : 'Pack push failed', r.error);
      return { registry: r.registry, repository: r.repository, manifests: r.manifests.map((m) => ({ tag: m.tag, digest: m.digest, mediaType: m.mediaType, blobs: blobCounts(m) })) };
    },
  );

  app.get('/api/v1/clusters/:id/events', { schema: { tags, summary: "The cluster's timeline", params: IdParams, querystring: EventsQuery, response: { 200: ClusterEvents, ...problemResponses(400, 404) } } }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    if ((await deps.clusters.get(id)) === null) return sendProblem(reply, 404, 'Not found', 'no such cluster');
    const q = req.query as { after: number; limit: number };
    const items = await deps.clusters.events(id, { afterId: q.after, limit: q.limit });
    return { items, next: items.length > 0 ? items[items.length - 1]!.id : q.after };
  });
}
