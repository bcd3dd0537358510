import { Type, type Static } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

/** RFC 9457 problem details; every API error leaves as application/problem+json. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'stable machine-readable code, one per status (RB_NOT_FOUND, RB_INVALID, ...)' }),
    detail: Type.Optional(Type.String()),
    issues: Type.Optional(Type.Array(Type.Unknown(), { description: 'what is wrong, field by field (and line by line for files)' })),
  },
  { $id: 'Problem', additionalProperties: false },
);
export type Problem = Static<typeof ProblemSchema>;

const CODES: Record<number, { code: string; title: string }> = {
  400: { code: 'RB_BAD_REQUEST', title: 'Bad request' },
  401: { code: 'RB_UNAUTHORIZED', title: 'Unauthorized' },
  403: { code: 'RB_FORBIDDEN', title: 'Forbidden' },
  404: { code: 'RB_NOT_FOUND', title: 'Not found' },
  405: { code: 'RB_METHOD_NOT_ALLOWED', title: 'Method not allowed' },
  406: { code: 'RB_NOT_ACCEPTABLE', title: 'Not acceptable' },
  409: { code: 'RB_CONFLICT', title: 'Conflict' },
  413: { code: 'RB_TOO_LARGE', title: 'Payload too large' },
  415: { code: 'RB_UNSUPPORTED_MEDIA_TYPE', title: 'Unsupported media type' },
  422: { code: 'RB_INVALID', title: 'Invalid' },
  429: { code: 'RB_RATE_LIMITED', title: 'Too many requests' },
  500: { code: 'RB_INTERNAL', title: 'Internal error' },
  501: { code: 'RB_NOT_IMPLEMENTED', title: 'Not implemented' },
  502: { code: 'RB_BAD_GATEWAY', title: 'Bad gateway' },
  503: { code: 'RB_UNAVAILABLE', title: 'Service unavailable' },
};

function codeOf(status: number): { code: string; title: string } {
  return CODES[status] ?? (status >= 500 ? CODES[500]! : CODES[400]!);
}

/** The problem body for a status; `type` and `code` follow the status, `title` may be more specific. */
export function problemBody(status: number, title?: string, detail?: string, issues?: unknown[]): Problem {
  const c = codeOf(status);
  const body: Problem = { type: `https://rackboot.dev/problems/${c.code.slice(3).toLowerCase().replace(/_/g, '-')}`, title: title ?? c.title, status, code: c.code };
  if (detail !== undefined) body.detail = detail;
  if (issues !== undefined) body.issues = issues;
  return body;
}

export function sendProblem(reply: FastifyReply, status: number, title: string, detail?: string, issues?: unknown[]): FastifyReply {
  return reply.code(status).type('application/problem+json').send(problemBody(status, title, detail, issues));
}

interface AjvIssue {
  instancePath: string;
  message?: string;
  params?: { missingProperty?: string; additionalProperty?: string };
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.addSchema(ProblemSchema);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const where = err.validationContext ?? 'request';
      const issues = (err.validation as AjvIssue[]).slice(0, 10).map((v) => {
        const extra = v.params?.missingProperty ?? v.params?.additionalProperty;
        const path = [where, ...v.instancePath.split('/').filter((s) => s !== ''), ...(extra !== undefined ? [extra] : [])].join('.');
        return { field: path, message: v.message ?? 'invalid' };
      });
      req.log.info({ url: req.url.split('?')[0], issues }, 'request rejected: invalid parameters');
      return sendProblem(reply, 400, 'Invalid request', err.message, issues);
    }
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ err: err.message, code: err.code }, 'request rejected');
    return sendProblem(reply, status, codeOf(status).title, status >= 500 ? 'see the server log' : err.message);
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'Not found', `${req.method} ${req.url.split('?')[0]}`));
}
