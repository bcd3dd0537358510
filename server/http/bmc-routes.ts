import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { PROVISION_METHODS, type BmcProvisioner, type ProvisionMethod } from '../provisioning/bmc-provisioner.js';
import { publicBmc } from '../provisioning/bmc-record.js';
import { BmcRegistrationSchema, registerBmc, type RegistrationDeps } from '../provisioning/bmc-registration.js';
import { selectMachines, SelectorSchema, type Selector } from '../provisioning/machine-selection.js';
import { dottedPath } from '../schema/issue-path.js';
import type { BmcRepo, MachineRepo } from '../store/types.js';
import { Pagination, pageOf, ref } from './api-schemas.js';
import { problemResponses } from './openapi.js';
import { sendProblem } from './problem.js';

export interface BmcRouteDeps {
  machines: MachineRepo;
  bmcs: BmcRepo;
  registration: RegistrationDeps;
  provisioner: BmcProvisioner;
}

const tags = ['bmc'];
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const Method = Type.Union(PROVISION_METHODS.map((m) => Type.Literal(m)));
const ProvisionBody = Type.Union([
  Type.Object({ method: Method, machines: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false }),
  Type.Object({ method: Method, selector: SelectorSchema }, { additionalProperties: false }),
]);
const OneBody = Type.Object({ method: Method }, { additionalProperties: false });
const ListQuery = Type.Object({ vendor: Type.Optional(Type.String({ description: 'vendor id (dell, hpe, …), case-insensitive' })), ...Pagination }, { additionalProperties: false });

const Opt = Type.Optional;
const BmcView = Type.Object({
  machineId: Type.String(),
  address: Type.String(),
  username: Type.String(),
  systemId: Type.String(),
  vendor: Type.Object({ id: Type.String(), product: Opt(Type.String()), firmwareVersion: Opt(Type.String()), generation: Opt(Type.Number()) }),
  trust: Type.Object(
    { mode: Type.Union([Type.Literal('ca'), Type.Literal('pinned'), Type.Literal('tofu')]), fingerprintSha256: Opt(Type.String()), trustedAt: Opt(Type.String()), subject: Opt(Type.String()), issuer: Opt(Type.String()) },
    { description: 'how the BMC certificate is trusted; the CA bundle itself is not repeated' },
  ),
  hardware: Type.Object({ manufacturer: Opt(Type.String()), model: Opt(Type.String()), serial: Opt(Type.String()), bootMode: Opt(Type.String()), gaps: Type.Array(Type.String()) }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Registered = Type.Object({ created: Type.Boolean(), machine: ref('Machine'), bmc: BmcView });
const Queued = Type.Object({
  accepted: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), bmc: Type.String() })),
  skipped: Type.Array(Type.Object({ id: Type.String(), name: Opt(Type.String()), reason: Type.String() })),
});

/** BMC registration and BMC-driven provisioning; the work happens in server/provisioning. */
export async function bmcRoutes(app: FastifyInstance, deps: BmcRouteDeps): Promise<void> {
  app.post(
    '/api/v1/bmcs',
    {
      schema: { tags, summary: 'Register a machine by its BMC: read it over Redfish, create or fill in the machine', response: { 200: Registered, 201: Registered, ...problemResponses(400, 409, 413, 415, 422, 502) } },
      config: { documentedBody: { 'application/json': BmcRegistrationSchema } },
    },
    async (req, reply) => {
      const r = await registerBmc(req.body, deps.registration);
      if (!r.ok) return sendProblem(reply, r.status, r.status === 502 ? 'BMC unreachable' : r.status === 409 ? 'Conflict' : 'Invalid BMC', `${r.code}: ${r.message}`, r.issues);
      req.log.info({ machine: r.machine.id, bmc: r.bmc.address, trust: r.bmc.trust.mode, created: r.created }, 'BMC registered');
      return reply.code(r.created ? 201 : 200).send({ created: r.created, machine: r.machine, bmc: r.bmc });
    },
  );

  app.get('/api/v1/bmcs', { schema: { tags, summary: 'Registered BMCs (never their passwords), filtered and paginated', querystring: ListQuery, response: { 200: pageOf(BmcView), ...problemResponses(400) } } }, async (req) => {
    const q = req.query as { vendor?: string; limit: number; offset: number };
    const all = (await deps.bmcs.list()).map(publicBmc).filter((b) => q.vendor === undefined || b.vendor.id.toLowerCase() === q.vendor.toLowerCase());
    return { items: all.slice(q.offset, q.offset + q.limit), total: all.length, limit: q.limit, offset: q.offset };
  });

  app.get('/api/v1/machines/:id/bmc', { schema: { tags, summary: "A machine's BMC: address, vendor, system, TLS trust", params: IdParams, response: { 200: BmcView, ...problemResponses(400, 404) } } }, async (req, reply) => {
    const rec = await deps.bmcs.get((req.params as { id: string }).id);
    return rec === null ? sendProblem(reply, 404, 'Not found', 'no BMC registered for this machine') : publicBmc(rec);
  });

  app.delete('/api/v1/machines/:id/bmc', { schema: { tags, summary: "Forget a machine's BMC and its stored credentials", params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 404) } } }, async (req, reply) => {
    const ok = await deps.bmcs.delete((req.params as { id: string }).id);
    return ok ? reply.code(204).send() : sendProblem(reply, 404, 'Not found', 'no BMC registered for this machine');
  });

  app.post(
    '/api/v1/machines/:id/bmc-provision',
    {
      schema: { tags, summary: 'Provision a machine through its BMC (PXE or virtual media)', params: IdParams, response: { 202: Queued, ...problemResponses(400, 404, 409, 413, 415, 422) } },
      config: { documentedBody: { 'application/json': OneBody } },
    },
    async (req, reply) => {
      if (!Value.Check(OneBody, req.body)) return sendProblem(reply, 422, 'Invalid request', `body must be {"method": "${PROVISION_METHODS.join('" | "')}"}`, [{ field: 'method', message: `one of ${PROVISION_METHODS.join(', ')}` }]);
      const m = await deps.machines.get((req.params as { id: string }).id);
      if (m === null) return sendProblem(reply, 404, 'Not found', 'no such machine');
      const r = await deps.provisioner.enqueue([m], req.body.method, `api ${req.ip}`);
      if (r.accepted.length === 0) return sendProblem(reply, 409, 'Conflict', r.skipped[0]!.reason);
      return reply.code(202).send(r);
    },
  );

  app.post(
    '/api/v1/bmcs/provision',
    {
      schema: { tags, summary: 'Provision machines through their BMCs: a list of ids or names, or a selector', response: { 202: Queued, ...problemResponses(400, 413, 415, 422) } },
      config: { documentedBody: { 'application/json': ProvisionBody } },
    },
    async (req, reply) => {
      if (!Value.Check(ProvisionBody, req.body)) {
        const issues = [...Value.Errors(ProvisionBody, req.body)].slice(0, 10).map((e) => ({ field: dottedPath(e.path) || '(body)', message: e.message }));
        return sendProblem(reply, 422, 'Invalid request', 'send {method, machines: [id|name, ...]} or {method, selector: {tag, rack, state}}', issues);
      }
      const body = req.body as { method: ProvisionMethod } & ({ machines: string[] } | { selector: Selector });
      const sel = await selectMachines(deps.machines, 'machines' in body ? { machines: body.machines } : { selector: body.selector });
      const r = await deps.provisioner.enqueue(sel.machines, body.method, `api ${req.ip}`);
      req.log.info({ method: body.method, accepted: r.accepted.length, skipped: r.skipped.length + sel.unknown.length }, 'BMC provisioning queued');
      return reply.code(202).send({ accepted: r.accepted, skipped: [...sel.unknown.map((ref) => ({ id: ref, reason: 'no such machine' })), ...r.skipped] });
    },
  );
}
