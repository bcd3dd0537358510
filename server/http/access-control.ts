import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticateApiToken } from '../access/api-tokens.js';
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

/**
 * Routes that take no API token: health, and the boot paths, which carry the machine's capability
 * token in the URL and check it themselves (boot-routes.ts). An API token does not open a boot path,
 * since only that capability is ever read there.
 */
export function isOpenPath(path: string): boolean {
  return OPEN_ROUTES.has(path) || path.startsWith('/boot/');
}

/**
 * The one gate for everything outside the boot paths: a route added anywhere later is protected
 * without opting in. Viewers may only read.
 */
export function installAccessControl(app: FastifyInstance, tokens: ApiTokenRepo, limiter: RateLimiter): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req, reply) => {
    const path = routePath(req);
    if (isOpenPath(path)) return;
    const m = /^Bearer +([!-~]+) *$/i.exec(req.headers.authorization ?? '');
    const token = m === null ? null : await authenticateApiToken(tokens, m[1]!);
    // Per token once known; per address otherwise, which also slows down guessing.
    const taken = limiter.take(token === null ? `ip:${req.ip}` : `token:${token.id}`);
    if (!taken.ok) {
      req.log.warn({ remote: req.ip, token: token?.name, url: path }, 'API rate limit reached');
      reply.header('retry-after', String(taken.retryAfterSeconds));
      return sendProblem(reply, 429, 'Too many requests', `rate limit reached for ${token === null ? `address ${req.ip}` : `token '${token.name}'`}; retry in ${taken.retryAfterSeconds} s`);
    }
    if (m === null) {
      reply.header('www-authenticate', 'Bearer realm="rackboot"');
      return sendProblem(reply, 401, 'Unauthorized', 'send an API token in the header Authorization: Bearer <token>');
    }
    if (token === null) {
      req.log.info({ remote: req.ip, url: path }, 'API request with an unknown or revoked token');
      reply.header('www-authenticate', 'Bearer realm="rackboot", error="invalid_token"');
      return sendProblem(reply, 401, 'Unauthorized', 'the API token is unknown or revoked');
    }
    req.principal = token;
    if (token.role !== 'admin' && !READ_METHODS.has(req.method)) {
      return sendProblem(reply, 403, 'Forbidden', `token '${token.name}' has role ${token.role}, which may only read (GET, HEAD)`);
    }
  });
}

/** The matched route's pattern, or for an unmatched request its path with duplicate slashes folded as the router does. */
function routePath(req: FastifyRequest): string {
  return req.routeOptions.url ?? req.url.split('?')[0]!.replace(/\/{2,}/g, '/');
}
