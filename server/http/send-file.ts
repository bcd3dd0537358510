import { open, realpath } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseRange } from './byte-range.js';

const CONTENT_TYPES: Record<string, string> = {
  '.efi': 'application/efi',
  '.iso': 'application/vnd.efi-iso',
  '.img': 'application/vnd.efi-img',
  '.ipxe': 'text/plain; charset=utf-8',
  '.yaml': 'text/yaml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export type ResolvedFile = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Resolves a request path inside root. Symlinks are followed and must stay inside root, so a link
 * planted in the artifact store cannot expose the rest of the filesystem.
 */
export async function resolveInside(root: string, requested: string): Promise<ResolvedFile> {
  if (requested.includes('\0') || requested.split(/[\\/]/).some((s) => s === '..')) return { ok: false, reason: 'path escapes the root' };
  let realRoot: string;
  let target: string;
  try {
    realRoot = await realpath(root);
    target = await realpath(resolve(realRoot, requested.replace(/^[\\/]+/, '')));
  } catch {
    return { ok: false, reason: 'not found' };
  }
  const rel = relative(realRoot, target);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) return { ok: false, reason: 'path escapes the root' };
  return { ok: true, path: target };
}

export interface SentFile {
  status: number;
  bytes: number;
  size: number;
  range: { start: number; end: number } | null;
}

/**
 * Sends a regular file with HEAD, Range, If-Range, If-None-Match and a strong ETag. No redirects ever
 * (UEFI HTTP Boot does not follow them) and no buffering of the whole file.
 */
export async function sendFile(req: FastifyRequest, reply: FastifyReply, path: string): Promise<SentFile | null> {
  const fh = await open(path, 'r').catch(() => null);
  if (fh === null) {
    await reply.code(404).type('text/plain').send('not found\n');
    return null;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    await reply.code(404).type('text/plain').send('not found\n');
    return null;
  }
  const size = st.size;
  const etag = `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  reply.header('accept-ranges', 'bytes');
  reply.header('etag', etag);
  reply.header('last-modified', st.mtime.toUTCString());
  reply.header('content-type', CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream');

  if (req.headers['if-none-match'] === etag) {
    await fh.close();
    await reply.code(304).send();
    return { status: 304, bytes: 0, size, range: null };
  }
  const ifRange = req.headers['if-range'];
  const range = ifRange !== undefined && ifRange !== etag ? { kind: 'full' as const } : parseRange(req.headers.range, size);
  if (range.kind === 'unsatisfiable') {
    await fh.close();
    reply.header('content-range', `bytes */${size}`);
    await reply.code(416).type('text/plain').send('range not satisfiable\n');
    return { status: 416, bytes: 0, size, range: null };
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  const status = range.kind === 'partial' ? 206 : 200;
  if (status === 206) reply.header('content-range', `bytes ${start}-${end}/${size}`);
  reply.header('content-length', String(length));
  reply.code(status);
  if (req.method === 'HEAD' || length === 0) {
    await fh.close();
    await reply.send();
    return { status, bytes: 0, size, range: status === 206 ? { start, end } : null };
  }
  await reply.send(fh.createReadStream({ start, end, highWaterMark: 256 * 1024 }));
  return { status, bytes: length, size, range: status === 206 ? { start, end } : null };
}
