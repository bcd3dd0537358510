import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { importMachines } from '../inventory/import-machines.js';
import type { InventoryFormat } from '../inventory/inventory-file.js';
import { MachineInputSchema, MachineStateSchema, type Machine } from '../inventory/machine.js';
import { normalizeMachineInput } from '../inventory/normalize.js';
import type { MachineState } from '../lifecycle/states.js';
import { StoreError, type ClusterRepo, type EventRepo, type MachineFilter, type MachinePatch, type MachineRepo } from '../store/types.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { Timeline } from '../timeline/recorder.js';
import { dottedPath } from '../schema/issue-path.js';
import { Pagination, pageOf, ref } from './api-schemas.js';
import { problemResponses } from './openapi.js';
import { maasModeOf } from '../inventory/maas-mode.js';
import type { MaasProvisioner } from '../provisioning/maas/provisioner.js';
import { maasNotConfigured, sendMaasFailure } from './maas-routes.js';
import { sendProblem } from './problem.js';

export interface MachineRouteDeps {
  machines: MachineRepo;
  events: EventRepo;
  timeline: Timeline;
  lifecycle: Lifecycle;
  /** Absent or null without a maas section in rackboot.yaml. */
  maas?: MaasProvisioner | null;
  /** For `?cluster=`; without it every cluster is unknown (404). */
  clusters?: ClusterRepo;
}

const ListQuery = Type.Object(
  {
    state: Type.Optional(MachineStateSchema),
    tag: Type.Optional(Type.String({ description: 'machines carrying this tag' })),
    rack: Type.Optional(Type.String()),
    role: Type.Optional(Type.String()),
    profile: Type.Optional(Type.String()),
    bmcVendor: Type.Optional(Type.String({ description: 'BMC vendor, case-insensitive' })),
    cluster: Type.Optional(Type.String({ minLength: 1, description: 'members of this cluster, by id or name; an unknown cluster is a 404' })),
    ...Pagination,
  },
  { additionalProperties: false },
);
const ProvisionBody = Type.Object(
  {
    via: Type.Optional(Type.Union([Type.Literal('netboot'), Type.Literal('maas')], { description: "maas: deploy (or redfish-via-maas) through MAAS; netboot: rackboot's own network boot" })),
    image: Type.Optional(Type.String({ minLength: 1, description: 'uploaded MAAS image artifact; default maas.image' })),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const EventsQuery = Type.Object({ after: Type.Integer({ minimum: 0, default: 0, description: 'events after this id' }), limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }) });
const PatchBody = Type.Composite([Type.Partial(MachineInputSchema), Type.Object({ state: Type.Optional(MachineStateSchema) })], { additionalProperties: false });
const ImportResult = Type.Object({ created: Type.Integer(), items: Type.Array(ref('Machine')) });
const EventPage = Type.Object({ items: Type.Array(ref('TimelineEvent')), next: Type.Integer({ description: 'pass as `after` for the next page' }) });
const tags = ['machines'];

/** A cluster by id, else by name (a name may look like an id). */
export async function findCluster(clusters: ClusterRepo | undefined, idOrName: string) {
  if (clusters === undefined) return null;
  return (ID_PATTERN.test(idOrName) ? await clusters.get(idOrName) : null) ?? (await clusters.findByName(idOrName));
}
const ID_PATTERN = /^[0-9a-f-]{36}$/;

const INVENTORY_TYPES: Record<string, InventoryFormat> = {
  'text/csv': 'csv',
  'application/yaml': 'yaml',
  'application/x-yaml': 'yaml',
  'text/yaml': 'yaml',
};

export async function machineRoutes(app: FastifyInstance, deps: MachineRouteDeps): Promise<void> {
  for (const type of Object.keys(INVENTORY_TYPES)) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 16 * 1024 * 1024 }, (_req, body, done) => done(null, body));
  }

  app.get('/api/v1/machines', { schema: { tags, summary: 'List machines, filtered and paginated', querystring: ListQuery, response: { 200: pageOf(ref('Machine')), ...problemResponses(400, 404) } } }, async (req, reply) => {
    const { cluster, ...q } = req.query as Omit<MachineFilter, 'clusterId'> & { cluster?: string; limit: number; offset: number };
    let clusterId: string | undefined;
    if (cluster !== undefined) {
      const c = await findCluster(deps.clusters, cluster);
      if (c === null) return sendProblem(reply, 404, 'Not found', `no cluster with id or name '${cluster}'`);
      clusterId = c.id;
    }
    const { items, total } = await deps.machines.list(clusterId === undefined ? q : { ...q, clusterId });
    return { items, total, limit: q.limit, offset: q.offset };
  });

  app.post('/api/v1/machines', { schema: { tags, summary: 'Add a machine', response: { 201: ref('Machine'), ...problemResponses(400, 409, 413, 415, 422) } }, config: { documentedBody: { 'application/json': MachineInputSchema } } }, async (req, reply) => {
    const r = normalizeMachineInput(req.body);
    if (!r.ok) return sendProblem(reply, 422, 'Invalid machine', 'the machine record has invalid fields', r.issues);
    try {
      const m = await deps.machines.create(r.machine);
      await adopt(m.id, m.macs);
      return reply.code(201).send(m);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'RB_CONFLICT') return sendProblem(reply, 409, 'Conflict', e.message);
      throw e;
    }
  });

  const importBody = Type.String({ description: 'CSV with a header row, or YAML: a list of machines or `machines:` holding one' });
  app.post('/api/v1/machines/import', { schema: { tags, summary: 'Import an inventory file, all or nothing', response: { 201: ImportResult, ...problemResponses(400, 413, 415, 422) } }, config: { documentedBody: { 'text/csv': importBody, 'application/yaml': importBody } } }, async (req, reply) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const format = INVENTORY_TYPES[type];
    if (format === undefined || typeof req.body !== 'string') {
      return sendProblem(reply, 415, 'Unsupported media type', `send text/csv or application/yaml, not '${type}'`);
    }
    const r = await importMachines(deps.machines, req.body, format);
    if (!r.ok) return sendProblem(reply, 422, 'Invalid inventory', 'nothing was imported; fix the lines listed', r.issues);
    for (const m of r.created) await adopt(m.id, m.macs);
    req.log.info({ count: r.created.length }, 'inventory imported');
    return reply.code(201).send({ created: r.created.length, items: r.created });
  });

  app.get('/api/v1/machines/:id', { schema: { tags, summary: 'One machine', params: IdParams, response: { 200: ref('Machine'), ...problemResponses(400, 404) } } }, async (req, reply) => {
    const m = await deps.machines.get((req.params as { id: string }).id);
    return m ?? sendProblem(reply, 404, 'Not found', 'no such machine');
  });

  app.patch('/api/v1/machines/:id', { schema: { tags, summary: 'Change fields or the state of a machine', params: IdParams, response: { 200: ref('Machine'), ...problemResponses(400, 404, 409, 413, 415, 422) } }, config: { documentedBody: { 'application/json': PatchBody } } }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const cur = await deps.machines.get(id);
    if (cur === null) return sendProblem(reply, 404, 'Not found', 'no such machine');
    if (!Value.Check(PatchBody, req.body)) {
      const issues = [...Value.Errors(PatchBody, req.body)].slice(0, 10).map((e) => ({ field: dottedPath(e.path), message: e.message }));
      return sendProblem(reply, 422, 'Invalid machine', 'the patch has invalid fields', issues);
    }
    const { state, ...fields } = req.body as Record<string, unknown> & { state?: MachineState };
    const merged = normalizeMachineInput({ ...toInput(cur), ...fields });
    if (!merged.ok) return sendProblem(reply, 422, 'Invalid machine', 'the patch has invalid fields', merged.issues);
    const { state: _ignored, discovery: _d, ...patch } = merged.machine;
    // Failing a machine goes through the lifecycle, so its reason and last events are kept and a
    // cluster it is forming with fails and stops too.
    const failing = state === 'failed' && cur.state !== 'failed';
    const full: MachinePatch = state === undefined || failing ? patch : { ...patch, state };
    try {
      const m = await deps.machines.update(id, full);
      if (failing) {
        const r = await deps.lifecycle.fail(id, 'marked failed through the API');
        if (!r.ok) return sendProblem(reply, 409, 'Conflict', r.message);
        return r.machine;
      }
      if (state !== undefined && state !== cur.state) {
        await deps.timeline.record({ machineId: id, mac: null, source: 'api', kind: 'state.changed', outcome: 'info', message: `state set to ${state} by the API`, detail: { from: cur.state, to: state } });
      }
      return m;
    } catch (e) {
      if (e instanceof StoreError && e.code === 'RB_CONFLICT') return sendProblem(reply, 409, 'Conflict', e.message);
      throw e;
    }
  });

  app.post(
    '/api/v1/machines/:id/provision',
    {
      schema: { tags, summary: 'Install the machine again; earlier boot URLs stop working. via maas deploys it through MAAS', params: IdParams, response: { 200: ref('Machine'), ...problemResponses(400, 404, 409, 422, 502) } },
      config: { documentedBody: { 'application/json': ProvisionBody } },
    },
    async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const body = req.body ?? {};
    if (!Value.Check(ProvisionBody, body)) {
      const issues = [...Value.Errors(ProvisionBody, body)].slice(0, 10).map((e) => ({ field: dottedPath(e.path), message: e.message }));
      return sendProblem(reply, 422, 'Invalid request', "the body is { via?: 'netboot' | 'maas', image?: string }", issues);
    }
    const { via, image } = body as { via?: 'netboot' | 'maas'; image?: string };
    const m = await deps.machines.get(id);
    if (m === null) return sendProblem(reply, 404, 'Not found', 'no such machine');
    // Without via, a machine installed through MAAS (deploy or redfish-via-maas) goes through MAAS.
    const maas = deps.maas ?? null;
    const mode = maas === null ? null : maasModeOf(m, maas.maasCfg);
    if (via === 'maas' || (via === undefined && (mode === 'deploy' || mode === 'redfish-via-maas'))) {
      if (maas === null) return maasNotConfigured(reply);
      const r = await maas.provision(id, `api ${req.ip}`, image !== undefined ? { image } : {});
      return r.ok ? r.value : sendMaasFailure(reply, r.code, r.message);
    }
    // The operator takes a MAAS-deployed machine back: rackboot's DHCP answers it again.
    if (via === 'netboot' && mode === 'deploy') await deps.machines.update(id, { maas: { ...m.maas, mode: 'inventory' } });
    const r = await deps.lifecycle.provision(id, `api ${req.ip}`);
    if (r.ok) return r.machine;
    return r.code === 'RB_NOT_FOUND' ? sendProblem(reply, 404, 'Not found', 'no such machine') : sendProblem(reply, 409, 'Conflict', r.message);
    },
  );

  app.delete('/api/v1/machines/:id', { schema: { tags, summary: 'Remove a machine', params: IdParams, response: { 204: Type.Null({ description: 'removed' }), ...problemResponses(400, 404) } } }, async (req, reply) => {
    const ok = await deps.machines.delete((req.params as { id: string }).id);
    return ok ? reply.code(204).send() : sendProblem(reply, 404, 'Not found', 'no such machine');
  });

  app.get('/api/v1/machines/:id/events', { schema: { tags, summary: "The machine's boot timeline", params: IdParams, querystring: EventsQuery, response: { 200: EventPage, ...problemResponses(400, 404) } } }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    if ((await deps.machines.get(id)) === null) return sendProblem(reply, 404, 'Not found', 'no such machine');
    const q = req.query as { after: number; limit: number };
    const items = await deps.events.listForMachine(id, { afterId: q.after, limit: q.limit });
    return { items, next: items.length > 0 ? items[items.length - 1]!.id : q.after };
  });

  /** Boot events seen before an operator registered a MAC become part of that machine's timeline. */
  async function adopt(id: string, macs: string[]): Promise<void> {
    for (const mac of macs) await deps.events.adoptByMac(mac, id);
  }
}

function toInput(machine: Machine): Record<string, unknown> {
  const m = machine as unknown as Record<string, unknown>;
  const keys = ['name', 'macs', 'smbiosUuid', 'serial', 'arch', 'firmware', 'role', 'rack', 'tags', 'network', 'profile', 'bmc', 'maas'];
  return Object.fromEntries(keys.filter((k) => m[k] !== null && m[k] !== undefined).map((k) => [k, m[k]]));
}
