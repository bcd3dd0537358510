import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

/** RFC 9457 problem details; every API error leaves as application/problem+json. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  issues?: unknown[];
}

export function sendProblem(reply: FastifyReply, status: number, title: string, detail?: string, issues?: unknown[]): FastifyReply {
  const body: Problem = { type: `https://rackboot.dev/problems/${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`, title, status };
  if (detail !== undefined) body.detail = detail;
  if (issues !== undefined) body.issues = issues;
  return reply.code(status).type('application/problem+json').send(body);
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) return sendProblem(reply, 400, 'Invalid request', err.message);
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ err: err.message, code: err.code }, 'request rejected');
    return sendProblem(reply, status, status >= 500 ? 'Internal error' : 'Bad request', status >= 500 ? 'see the server log' : err.message);
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'Not found', `${req.method} ${req.url.split('?')[0]}`));
}
