import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticateApiToken } from '../access/api-tokens.js';
import { cookieValue, SESSION_COOKIE, type BrowserSessions } from '../access/browser-sessions.js';
import type { ApiToken, ApiTokenRepo } from '../store/types.js';
import { sendProblem } from './problem.js';
import type { RateLimiter } from './rate-limiter.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API token presented (recognised, though perhaps refused for its role); null on boot paths and open routes. */
    principal: ApiToken | null;
  }
}

const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
const OPEN_ROUTES: ReadonlySet<string> = new Set(['/healthz']);
/** Signing the dashboard in and out is the one write a viewer may make. */
export const VIEWER_WRITABLE_PATHS: ReadonlySet<string> = new Set(['/api/v1/session']);

/**
 * Routes that take no API token: health, and the boot paths, which carry the machine's capability
 * token in the URL and check it themselves (boot-routes.ts). An API token does not open a boot path,
 * since only that capability is ever read there.
 */
export function isOpenPath(path: string): boolean {
  // The dashboard's static files hold no data; everything it shows comes through the gated API.
  return OPEN_ROUTES.has(path) || path.startsWith('/boot/') || path === '/ui' || path.startsWith('/ui/');
}

/**
 * The one gate for everything outside the boot paths: a route added anywhere later is protected
 * without opting in. Viewers may only read, and not what a route marks adminOnly.
 */
export function installAccessControl(app: FastifyInstance, tokens: ApiTokenRepo, limiter: RateLimiter, sessions: BrowserSessions | null = null, plainHttp: PlainHttpPolicy = 'local'): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req, reply) => {
    const path = routePath(req);
    if (isOpenPath(path)) return;
    if (!plainAllowed(req, plainHttp)) {
      req.log.info({ remote: req.ip, url: path }, 'API request over plain HTTP from another host refused');
      return sendProblem(reply, 403, 'HTTPS required', `the API is served to other hosts over HTTPS only (api.plainHttp is ${plainHttp}); use the https listener`);
    }
    const m = /^Bearer +([!-~]+) *$/i.exec(req.headers.authorization ?? '');
    // Without a bearer token, the dashboard's session cookie stands for the token it was opened with;
    // that token is looked up again on every request, so revoking it signs the browser out.
    const sessionId = m === null && sessions !== null ? cookieValue(req.headers.cookie, SESSION_COOKIE) : null;
    const sessionSha = sessionId === null ? null : sessions!.lookup(sessionId);
    const token = m !== null ? await authenticateApiToken(tokens, m[1]!) : sessionSha !== null ? await tokens.findBySecretSha256(sessionSha) : null;
    // Per token once known; per address otherwise, which also slows down guessing.
    const taken = limiter.take(token === null ? `ip:${req.ip}` : `token:${token.id}`);
    if (!taken.ok) {
      req.log.warn({ remote: req.ip, token: token?.name, url: path }, 'API rate limit reached');
      reply.header('retry-after', String(taken.retryAfterSeconds));
      return sendProblem(reply, 429, 'Too many requests', `rate limit reached for ${token === null ? `address ${req.ip}` : `token '${token.name}'`}; retry in ${taken.retryAfterSeconds} s`);
    }
    if (m === null && sessionId === null) {
      reply.header('www-authenticate', 'Bearer realm="rackboot"');
      return sendProblem(reply, 401, 'Unauthorized', 'send an API token in the header Authorization: Bearer <token>');
    }
    if (token === null) {
      req.log.info({ remote: req.ip, url: path }, m === null ? 'API request with an ended dashboard session' : 'API request with an unknown or revoked token');
      reply.header('www-authenticate', 'Bearer realm="rackboot", error="invalid_token"');
      return sendProblem(reply, 401, 'Unauthorized', m === null ? 'the dashboard session has ended or its token was revoked; sign in again' : 'the API token is unknown or revoked');
    }
    req.principal = token;
    // A page on another site cannot add a custom header without CORS, which rackboot never grants.
    if (m === null && !READ_METHODS.has(req.method) && req.headers['x-rackboot-csrf'] === undefined) {
      return sendProblem(reply, 403, 'Forbidden', 'writes with a session cookie must carry the header X-Rackboot-CSRF');
    }
    if (token.role !== 'admin' && !READ_METHODS.has(req.method) && !VIEWER_WRITABLE_PATHS.has(path)) {
      return sendProblem(reply, 403, 'Forbidden', `token '${token.name}' has role ${token.role}, which may only read (GET, HEAD)`);
    }
    if (token.role !== 'admin' && req.routeOptions.config.adminOnly === true) {
      return sendProblem(reply, 403, 'Forbidden', `token '${token.name}' has role ${token.role}; this read returns credentials and needs an admin token`);
    }
  });
}

export type PlainHttpPolicy = 'local' | 'all' | 'none';

/** Tokens cross the network only inside TLS: plain HTTP carries the API for this host's own clients at most. */
function plainAllowed(req: FastifyRequest, policy: PlainHttpPolicy): boolean {
  const socket = req.raw.socket as { encrypted?: boolean; remoteAddress?: string; localAddress?: string };
  if (socket.encrypted === true || policy === 'all') return true;
  if (policy === 'none') return false;
  const remote = socket.remoteAddress ?? '';
  return remote === socket.localAddress || remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.');
}

/** The matched route's pattern, or for an unmatched request its path with duplicate slashes folded as the router does. */
function routePath(req: FastifyRequest): string {
  return req.routeOptions.url ?? req.url.split('?')[0]!.replace(/\/{2,}/g, '/');
}
