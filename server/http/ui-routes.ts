import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { MACHINE_STATES } from '../lifecycle/states.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// Scripts and styles only from these files: even if data ever reached the page as markup, the browser
// would run no inline script or handler.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

/** The UI is a handful of small files: read once at start, served from memory, no path ever touches the disk. */
export async function loadUiAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const name of await readdir(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    let body = await readFile(join(dir, name));
    if (name === 'index.html') body = Buffer.from(body.toString('utf8').replace('{{states}}', MACHINE_STATES.join(',')));
    assets.set(name, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  if (!assets.has('index.html')) throw new Error(`${dir} has no index.html`);
  return assets;
}

/** The dashboard under /ui/: static files only; it reads everything else through /api/v1 like any client. */
export async function uiRoutes(app: FastifyInstance, assets: Map<string, Asset>): Promise<void> {
  const send = (reply: FastifyReply, a: Asset, ifNoneMatch: string | undefined) => {
    reply.headers({ ...SECURITY_HEADERS, etag: a.etag, 'cache-control': 'no-cache' });
    if (ifNoneMatch === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  };
  // Not part of the API: left out of the OpenAPI document.
  const schema = { hide: true };
  app.get('/ui', { schema }, async (req, reply) => send(reply, assets.get('index.html')!, req.headers['if-none-match']));
  app.get<{ Params: { file: string } }>('/ui/:file', { schema }, async (req, reply) => {
    const a = assets.get(req.params.file);
    if (a === undefined) return reply.code(404).type('text/plain').send('not found\n');
    return send(reply, a, req.headers['if-none-match']);
  });
}
