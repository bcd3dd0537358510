import { realpath, type FileHandle } from 'node:fs/promises';
import { ServerResponse } from 'node:http';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { parseRange } from './byte-range.js';
import { openPerRequest, type FileOpener, type OpenedFile } from './file-handle-cache.js';

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

/** A piece of a response body: a range of the opened file, or bytes held in memory. */
/** Told what a response will send, just before its body starts; may return a callback for bytes sent. */
export type BodyObserver = (sent: SentFile) => ((bytesSent: number) => void) | null;

export type BodySegment = { kind: 'base'; offset: number; length: number } | { kind: 'bytes'; data: Buffer };

/** A virtual file made of segments over one base file (e.g. a remastered ISO), with its own validator. */
export interface SegmentedFile {
  size: number;
  /** Size the base file must have; any other size means the layout is stale. */
  baseSize: number;
  segments: readonly BodySegment[];
  etag: string;
}

/**
 * Sends a regular file with HEAD, Range, If-Range, If-None-Match and a strong ETag. No redirects ever
 * (UEFI HTTP Boot does not follow them) and no buffering of the whole file.
 */
export async function sendFile(req: FastifyRequest, reply: FastifyReply, path: string, openFile: FileOpener = openPerRequest, observe?: BodyObserver): Promise<SentFile | null> {
  const opened = await openFile(path);
  if (opened === null || !opened.stat.isFile()) {
    opened?.release();
    await reply.code(404).type('text/plain').send('not found\n');
    return null;
  }
  const { stat: st } = opened;
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  return sendOpened(req, reply, path, opened, { size: st.size, baseSize: st.size, segments: [{ kind: 'base', offset: 0, length: st.size }], etag }, observe);
}

/** Sends a segmented view of the file at basePath with exactly sendFile's semantics and body pump. */
export async function sendSegments(req: FastifyRequest, reply: FastifyReply, basePath: string, view: SegmentedFile, openFile: FileOpener = openPerRequest, observe?: BodyObserver): Promise<SentFile | null> {
  const opened = await openFile(basePath);
  if (opened === null || !opened.stat.isFile() || opened.stat.size !== view.baseSize) {
    if (opened !== null) req.log.error({ path: basePath, size: opened.stat.size, expected: view.baseSize }, 'base file of a segmented view changed size');
    opened?.release();
    await reply.code(404).type('text/plain').send('not found\n');
    return null;
  }
  return sendOpened(req, reply, basePath, opened, view, observe);
}

async function sendOpened(req: FastifyRequest, reply: FastifyReply, path: string, opened: OpenedFile, view: SegmentedFile, observe?: BodyObserver): Promise<SentFile> {
  const { fh, stat: st, release } = opened;
  const { size, etag } = view;
  reply.header('accept-ranges', 'bytes');
  reply.header('etag', etag);
  reply.header('last-modified', st.mtime.toUTCString());
  // A caller serving a blob under a public name sets the type; otherwise the extension decides.
  if (!reply.hasHeader('content-type')) reply.header('content-type', CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream');

  if (req.headers['if-none-match'] === etag) {
    release();
    await reply.code(304).send();
    return { status: 304, bytes: 0, size, range: null };
  }
  const ifRange = req.headers['if-range'];
  const range = ifRange !== undefined && ifRange !== etag ? { kind: 'full' as const } : parseRange(req.headers.range, size);
  if (range.kind === 'unsatisfiable') {
    release();
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
    release();
    await reply.send();
    return { status, bytes: 0, size, range: status === 206 ? { start, end } : null };
  }
  const sent: SentFile = { status, bytes: length, size, range: status === 206 ? { start, end } : null };
  await reply.send(new FileBody(new SegmentReader(fh, view.segments), start, end, release, observe?.(sent) ?? null));
  return sent;
}

/** Reads a byte range of a segmented view into a caller's buffer: file ranges by pread, the rest by copy. */
class SegmentReader {
  private readonly starts: number[] = [];

  constructor(
    private readonly fh: FileHandle,
    private readonly segments: readonly BodySegment[],
  ) {
    let at = 0;
    for (const s of segments) {
      this.starts.push(at);
      at += s.kind === 'base' ? s.length : s.data.length;
    }
  }

  /** Index of the segment holding byte `pos` (binary search: a view has few segments, but a file one). */
  private indexOf(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Fills buf[0..n) from byte `pos`; fewer bytes only when the file ends early. */
  async read(buf: Buffer, n: number, pos: number): Promise<number> {
    let got = 0;
    let i = this.indexOf(pos);
    while (got < n && i < this.segments.length) {
      const s = this.segments[i]!;
      const within = pos + got - this.starts[i]!;
      const segLength = s.kind === 'base' ? s.length : s.data.length;
      const take = Math.min(n - got, segLength - within);
      if (take <= 0) {
        i++;
        continue;
      }
      if (s.kind === 'bytes') {
        s.data.copy(buf, got, within, within + take);
        got += take;
      } else {
        const { bytesRead } = await this.fh.read(buf, got, take, s.offset + within);
        if (bytesRead === 0) return got;
        got += bytesRead;
        if (bytesRead < take) continue;
      }
      i++;
    }
    return got;
  }
}

// 512 KiB: at 64 concurrent 1 GiB downloads on 2 cores, 256 KiB spent a quarter of the CPU on
// thread-pool hand-offs (0.64 vs 0.48 s of server CPU per GiB sent). Short ranges read only their length.
const CHUNK = 512 * 1024;

// Full-size chunk buffers shared across responses: a BMC mounting an ISO sends thousands of 1 MiB
// Range requests, and two fresh 512 KiB buffers for each one kept the garbage collector busy.
const POOL: Buffer[] = [];
const POOL_MAX = 32;

function takeBuffer(size: number): Buffer {
  return (size === CHUNK ? POOL.pop() : undefined) ?? Buffer.allocUnsafeSlow(size);
}

function giveBuffer(buf: Buffer): void {
  if (buf.length === CHUNK && POOL.length < POOL_MAX) POOL.push(buf);
}

/**
 * A file range as a response body. Piped into a plain Node ServerResponse (what fastify does with a
 * stream body), it reads into two buffers that are reused as soon as the socket has taken each chunk
 * (the write callback), so a download allocates nothing per chunk. A fresh Buffer per chunk (what
 * fs.ReadStream does) made V8 run a full mark-compact every ~30 MB sent, to release external memory,
 * and that cost more CPU than the copying itself. Any other consumer gets an ordinary Readable.
 */
class FileBody extends Readable {
  private pos: number;
  private readonly first: number;
  private pumping = false;

  constructor(
    private readonly src: SegmentReader,
    start: number,
    private readonly last: number,
    private readonly release: () => void,
    private readonly onSent: ((bytesSent: number) => void) | null,
  ) {
    super({ highWaterMark: CHUNK });
    this.pos = start;
    this.first = start;
  }

  override _read(): void {
    const n = Math.min(CHUNK, this.last + 1 - this.pos);
    if (n <= 0) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafe(n);
    this.src.read(buffer, n, this.pos).then(
      (bytesRead) => {
        if (bytesRead === 0) return this.destroy(new Error('file shrank while being sent'));
        this.pos += bytesRead;
        // Without a socket's write callback, bytes handed on count as sent.
        this.onSent?.(this.pos - this.first);
        this.push(bytesRead === n ? buffer : buffer.subarray(0, bytesRead));
      },
      (err: Error) => this.destroy(err),
    );
  }

  // The handle is the opener's: closed for a one-off open, kept for a cached blob.
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.release();
    cb(err);
  }

  override pipe<T extends NodeJS.WritableStream>(dest: T, opts?: { end?: boolean }): T {
    // Only a genuine ServerResponse guarantees the write callbacks the buffer reuse relies on.
    if (this.pumping || this.readableFlowing !== null || Object.getPrototypeOf(dest) !== ServerResponse.prototype) return super.pipe(dest, opts);
    this.pumping = true;
    this.pump(dest as unknown as ServerResponse, opts?.end !== false).catch((err: Error) => this.destroy(err));
    return dest;
  }

  private async pump(res: ServerResponse, end: boolean): Promise<void> {
    const size = Math.min(CHUNK, this.last + 1 - this.pos);
    const free = [takeBuffer(size), takeBuffer(size)];
    // Once the pump is done, buffers the socket hands back go to the shared pool instead.
    let finished = false;
    // Bytes the socket has taken (write callbacks), what a progress bar shows.
    let acked = 0;
    let wake: (() => void) | null = null;
    const signal = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const gone = (): boolean => this.destroyed || res.destroyed;
    res.on('close', signal);
    try {
      while (this.pos <= this.last) {
        while (free.length === 0 && !gone()) await new Promise<void>((r) => (wake = r));
        const buf = free.pop();
        if (buf === undefined) return;
        if (gone()) {
          giveBuffer(buf);
          return;
        }
        const n = Math.min(buf.length, this.last + 1 - this.pos);
        const bytesRead = await this.src.read(buf, n, this.pos);
        if (gone()) {
          giveBuffer(buf);
          return;
        }
        if (bytesRead === 0) throw new Error('file shrank while being sent');
        this.pos += bytesRead;
        res.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), (err) => {
          // A failed write may still hold the buffer; let the GC have it rather than reuse it.
          if (!err) {
            acked += bytesRead;
            this.onSent?.(acked);
            if (finished) giveBuffer(buf);
            else free.push(buf);
          }
          signal();
        });
      }
      if (end) res.end();
      // Nothing was buffered in the Readable; ending it lets fastify (and autoDestroy) see the end.
      this.push(null);
      this.resume();
    } finally {
      finished = true;
      for (const b of free.splice(0)) giveBuffer(b);
      res.off('close', signal);
    }
  }
}
