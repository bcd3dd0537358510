import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { MaasFailureCode, MaasProvisioner } from '../provisioning/maas/provisioner.js';
import { dottedPath } from '../schema/issue-path.js';
import { ref } from './api-schemas.js';
import { problemResponses } from './openapi.js';
import { sendProblem } from './problem.js';

export interface MaasRouteDeps {
  /** Null when rackboot.yaml has no maas section (or its key could not be read). */
  maas?: MaasProvisioner | null;
}

const ImageBody = Type.Object(
  {
    path: Type.String({ minLength: 1, description: 'the ddgz image, a path on the rackboot host' }),
    name: Type.String({ minLength: 1, maxLength: 63 }),
    title: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const SyncSummary = Type.Object({
  seen: Type.Integer({ description: 'MAAS machines matching maas.sync' }),
  created: Type.Array(Type.String(), { description: 'ids of machines created' }),
  updated: Type.Array(Type.String(), { description: 'ids of machines refreshed' }),
  unchanged: Type.Integer(),
  skipped: Type.Array(Type.Object({ systemId: Type.String(), hostname: Type.String(), reason: Type.String() })),
});
const Released = Type.Object({ systemId: Type.String(), unlocked: Type.Boolean(), released: Type.Boolean({ description: 'false when MAAS already had it released' }) });
const MaasImage = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: Type.Literal('maas-image'),
    sha256: Type.String(),
    size: Type.Integer(),
    source: Type.String(),
    meta: Type.Object({ maasName: Type.String(), resourceId: Type.Integer(), architecture: Type.String(), filetype: Type.String(), baseImage: Type.String(), maasUrl: Type.String() }),
    createdAt: Type.String(),
  },
  { additionalProperties: true },
);
const tags = ['maas'];

const STATUS: Record<MaasFailureCode, [number, string]> = {
  RB_NOT_FOUND: [404, 'Not found'],
  RB_LIFECYCLE_CONFLICT: [409, 'Conflict'],
  RB_MAAS_MODE: [409, 'Conflict'],
  RB_MAAS_NO_IMAGE: [422, 'No MAAS image'],
  RB_MAAS_USER_DATA: [422, 'User-data not rendered'],
  RB_MAAS_NO_SYSTEM_ID: [422, 'Not linked to MAAS'],
  RB_MAAS_UPSTREAM: [502, 'MAAS error'],
};

export function sendMaasFailure(reply: FastifyReply, code: MaasFailureCode, message: string): FastifyReply {
  const [status, title] = STATUS[code];
  return sendProblem(reply, status, title, message);
}

export function maasNotConfigured(reply: FastifyReply): FastifyReply {
  return sendProblem(reply, 404, 'MAAS not configured', 'rackboot.yaml has no usable maas section');
}

/** MAAS operations of the service; the provisioning layer does the work. */
export async function maasRoutes(app: FastifyInstance, deps: MaasRouteDeps): Promise<void> {
  app.post('/api/v1/maas/sync', { schema: { tags, summary: 'Import and refresh machines from MAAS', response: { 200: SyncSummary, ...problemResponses(404, 502) } } }, async (req, reply) => {
    if (!deps.maas) return maasNotConfigured(reply);
    const r = await deps.maas.sync();
    if (!r.ok) return sendProblem(reply, 502, 'MAAS error', r.reason);
    req.log.info({ created: r.summary.created.length, updated: r.summary.updated.length, skipped: r.summary.skipped.length }, 'MAAS sync');
    return r.summary;
  });

  app.post(
    '/api/v1/maas/images',
    {
      schema: { tags, summary: 'Upload a ddgz disk image to MAAS (chunked, resumable) and record it as an artifact', response: { 200: MaasImage, 201: MaasImage, ...problemResponses(404, 409, 422, 502) } },
      config: { documentedBody: { 'application/json': ImageBody } },
    },
    async (req, reply) => {
    if (!deps.maas) return maasNotConfigured(reply);
    if (!Value.Check(ImageBody, req.body)) {
      const issues = [...Value.Errors(ImageBody, req.body)].slice(0, 10).map((e) => ({ field: dottedPath(e.path), message: e.message }));
      return sendProblem(reply, 422, 'Invalid image', 'the request has invalid fields', issues);
    }
    const b = req.body as { path: string; name: string; title?: string };
    const r = await deps.maas.uploadImage({ path: b.path, name: b.name, ...(b.title !== undefined ? { title: b.title } : {}) });
    if (!r.ok) {
      const status = r.code === 'RB_MAAS_IMAGE_UPLOAD' ? 502 : r.code === 'RB_MAAS_IMAGE_TAKEN' ? 409 : 422;
      return sendProblem(reply, status, status === 502 ? 'MAAS error' : 'Invalid image', r.reason);
    }
    return reply.code(r.reused ? 200 : 201).send(r.artifact);
    },
  );

  app.post(
    '/api/v1/machines/:id/release',
    { schema: { tags, summary: 'MAAS teardown: stop following, unlock and release the machine in MAAS', params: IdParams, response: { 200: Released, ...problemResponses(400, 404, 422, 502) } } },
    async (req, reply) => {
    if (!deps.maas) return maasNotConfigured(reply);
    const r = await deps.maas.release((req.params as { id: string }).id, `api ${req.ip}`);
    return r.ok ? r.value : sendMaasFailure(reply, r.code, r.message);
    },
  );
}
