import swagger from '@fastify/swagger';
import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { isOpenPath } from './access-control.js';

export const OPENAPI_PATH = '/api/v1/openapi.json';

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid path or query parameters, or a malformed body',
  401: 'no API token, or an unknown or revoked one',
  403: 'the token may not do this (viewers only read)',
  404: 'no such resource',
  409: 'conflicts with the stored state',
  413: 'body too large',
  415: 'unsupported content type',
  422: 'the body is well-formed but invalid; `issues` lists why',
  429: 'too many requests from this client; retry after `retry-after` seconds',
  500: 'internal error',
  501: 'not available in this build',
  502: 'a device or service rackboot talks to (a BMC, MAAS) could not be reached or refused; `detail` carries its answer',
};

/** Problem responses for a route's schema, as application/problem+json. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: PROBLEM_DESCRIPTIONS[s] ?? 'error', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } }]),
  );
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A request body documented in the OpenAPI document but validated by the handler itself (so its
     * errors carry the handler's field issues and 422), keyed by content type.
     */
    documentedBody?: Record<string, TSchema>;
    /** A read only admin tokens may make, since it returns credentials; audited like a change. */
    adminOnly?: boolean;
  }
}

/**
 * Registers the OpenAPI 3 generator; every route registered afterwards is described. Boot paths are
 * left out (they are not the API), and every gated route gets its 401/403/429 answers documented.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'rackboot API', version: '1', description: 'Bare-metal provisioning: inventory, lifecycle, timeline.' },
      components: { securitySchemes: { apiToken: { type: 'http', scheme: 'bearer', description: 'an API token (rackboot tokens create)' } } },
      security: [{ apiToken: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const s = { ...(schema ?? {}) } as Record<string, unknown>;
      if (url.startsWith('/boot/')) return { schema: { ...s, hide: true }, url };
      const documented = route.config?.documentedBody;
      if (documented !== undefined) s.body = { content: Object.fromEntries(Object.entries(documented).map(([type, body]) => [type, { schema: body }])) };
      if (isOpenPath(url)) {
        s.security = [];
        return { schema: s, url };
      }
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const writes = methods.some((m) => m !== 'GET' && m !== 'HEAD');
      const adminOnly = route.config?.adminOnly === true;
      if (adminOnly) s['x-required-role'] = 'admin';
      s.response = { ...problemResponses(401, ...(writes || adminOnly ? [403] : []), 429), ...((s.response as object | undefined) ?? {}) };
      return { schema: s, url };
    },
  });
  app.get(OPENAPI_PATH, { schema: { tags: ['meta'], summary: 'This OpenAPI document', response: { 200: { description: 'OpenAPI 3 document', type: 'object', additionalProperties: true } } } }, async () => app.swagger());
}
