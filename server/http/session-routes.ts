import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { secretSha256 } from '../access/api-tokens.js';
import { BrowserSessions, cookieValue, SESSION_COOKIE } from '../access/browser-sessions.js';
import { problemResponses } from './openapi.js';

const Principal = Type.Object({ name: Type.String(), role: Type.Union([Type.Literal('admin'), Type.Literal('viewer')]) });

/**
 * Dashboard sign-in. The browser sends its API token once, in the Authorization header like any
 * client; the access gate checks it, and the answer sets an HttpOnly, SameSite=Strict session cookie
 * that EventSource and fetch then carry. The token itself never reaches the page's storage.
 */
export async function sessionRoutes(app: FastifyInstance, sessions: BrowserSessions): Promise<void> {
  app.post(
    '/api/v1/session',
    { schema: { tags: ['session'], summary: 'Exchange the bearer token for a dashboard session cookie', response: { 200: Principal, ...problemResponses(400) } } },
    async (req, reply) => {
      const bearer = /^Bearer +([!-~]+) *$/i.exec(req.headers.authorization ?? '');
      const p = req.principal!;
      if (bearer === null) return { name: p.name, role: p.role }; // already signed in with the cookie
      const id = sessions.open(secretSha256(bearer[1]!));
      setCookie(req, reply, id, Math.floor(sessions.ttlMs / 1000));
      req.log.info({ token: p.name, remote: req.ip }, 'dashboard session opened');
      return { name: p.name, role: p.role };
    },
  );

  app.get('/api/v1/session', { schema: { tags: ['session'], summary: 'Who this request is signed in as', response: { 200: Principal } } }, async (req) => ({
    name: req.principal!.name,
    role: req.principal!.role,
  }));

  app.delete('/api/v1/session', { schema: { tags: ['session'], summary: 'Sign the dashboard out', response: { 204: Type.Null() } } }, async (req, reply) => {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id !== null) sessions.close(id);
    setCookie(req, reply, '', 0);
    return reply.code(204).send();
  });
}

function setCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAge: number): void {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/api/v1/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`);
}
