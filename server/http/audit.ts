import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditOutcome, AuditRepo } from '../store/types.js';
import { isOpenPath } from './access-control.js';
import { Pagination, pageOf } from './api-schemas.js';
import { problemResponses } from './openapi.js';

const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

const AuditEntrySchema = Type.Object(
  {
    id: Type.Integer(),
    ts: Type.String({ format: 'date-time' }),
    actor: Type.String({ description: 'API token name, cli:<user> for host commands, rackboot for the service' }),
    role: Type.Union([Type.String(), Type.Null()]),
    action: Type.String({ description: 'METHOD /route/pattern, or the command' }),
    target: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Integer(), Type.Null()]),
    outcome: Type.String({ enum: ['ok', 'refused', 'failed'] }),
    detail: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true },
);
const AuditQuery = Type.Object({ actor: Type.Optional(Type.String()), target: Type.Optional(Type.String()), ...Pagination }, { additionalProperties: false });

/**
 * Every change made through the API, and every read of credentials, is recorded after it is
 * answered: who (the token), what (method and route, the resource, the names of the fields sent,
 * never their values), when, and how it ended. One hook on the root, so routes added later are
 * audited too.
 */
export function installAudit(app: FastifyInstance, audit: AuditRepo): void {
  app.addHook('onResponse', async (req, reply) => {
    // Reads are not changes, but a read of credentials (adminOnly) is recorded too.
    if ((READ_METHODS.has(req.method) && req.routeOptions.config.adminOnly !== true) || req.principal === null) return;
    const path = req.url.split('?')[0]!;
    if (isOpenPath(req.routeOptions.url ?? path)) return;
    const status = reply.statusCode;
    const outcome: AuditOutcome = status < 400 ? 'ok' : status === 401 || status === 403 ? 'refused' : 'failed';
    try {
      await audit.append({
        actor: req.principal.name,
        role: req.principal.role,
        action: `${req.method} ${req.routeOptions.url ?? path}`,
        target: targetOf(req),
        status,
        outcome,
        detail: { path, ...sentFields(req.body) },
      });
    } catch (e) {
      req.log.error({ err: e, actor: req.principal.name, path }, 'could not write the audit log');
    }
  });

  app.get(
    '/api/v1/audit',
    { schema: { tags: ['audit'], summary: 'The audit log of changes, newest first', querystring: AuditQuery, response: { 200: pageOf(AuditEntrySchema), ...problemResponses(400) } } },
    async (req) => {
      const q = req.query as { actor?: string; target?: string; limit: number; offset: number };
      const { items, total } = await audit.list(q);
      return { items, total, limit: q.limit, offset: q.offset };
    },
  );
}

function targetOf(req: FastifyRequest): string | null {
  const params = (req.params ?? {}) as Record<string, unknown>;
  const v = params.id ?? params.name ?? Object.values(params)[0];
  return typeof v === 'string' ? v : null;
}

/** Field names only: bodies may carry BMC passwords and other secrets. */
function sentFields(body: unknown): Record<string, unknown> {
  if (typeof body === 'string') return { bytes: Buffer.byteLength(body) };
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) return { fields: Object.keys(body).sort() };
  return {};
}
