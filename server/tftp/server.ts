// Read-only TFTP server: RFC 1350 transfers with RFC 2347 option negotiation, blksize (RFC 2348), tsize and
// timeout (RFC 2349) and windowsize (RFC 7440). Each transfer has its own UDP socket (its TID); the main
// socket only accepts requests. Retransmission is driven by the server's timer only, never by duplicate
// ACKs, which keeps the send window stable on lossy links.
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  encodeData,
  encodeError,
  encodeOack,
  ErrorCode,
  parsePacket,
  type RequestPacket,
  type TftpOptions,
} from './packet.js';

export interface TftpSourceFile {
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}
export type TftpOpenResult = { ok: true; file: TftpSourceFile } | { ok: false; code: number; message: string };
export interface TftpRequestInfo {
  filename: string;
  remoteAddress: string;
  remotePort: number;
  options: Record<string, string>;
}
export type TftpEvent =
  | { type: 'request'; remoteAddress: string; remotePort: number; filename: string; options: Record<string, string> }
  | { type: 'denied'; remoteAddress: string; filename: string; code: number; reason: string }
  | { type: 'complete'; remoteAddress: string; remotePort: number; filename: string; bytes: number; blksize: number; windowsize: number; durationMs: number }
  | { type: 'aborted'; remoteAddress: string; remotePort: number; filename: string; bytesSent: number; reason: string }
  | { type: 'malformed'; remoteAddress: string; remotePort: number; reason: string };
export interface TftpServerOptions {
  host: string;
  port: number;
  blockSizeMax?: number;
  windowSizeMax?: number;
  timeoutMs?: number;
  retries?: number;
  maxTransfers?: number;
  maxPerClient?: number;
  open(req: TftpRequestInfo): Promise<TftpOpenResult>;
  onEvent?(ev: TftpEvent): void;
}

const BLKSIZE_MIN = 8;
const BLKSIZE_MAX = 65464; // RFC 2348 upper bound
const BLKSIZE_DEFAULT = 512;
const WINDOWSIZE_MAX = 65535; // RFC 7440 upper bound
// stop() does not wait forever for a source whose open() never settles.
const STOP_WAIT_MS = 5000;

interface Limits {
  blockSizeMax: number;
  windowSizeMax: number;
  timeoutMs: number;
  retries: number;
  maxTransfers: number;
  maxPerClient: number;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function intOption(value: string | undefined): number | null {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return null;
  return Number(value);
}

interface Negotiated {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  oack: Array<[string, string]> | null; // null: no recognised option, start with DATA 1
}

// Only options the client sent are answered (RFC 2347); unusable values drop the option rather than
// refusing the transfer, so the client falls back to the RFC 1350 defaults.
function negotiate(options: TftpOptions, size: number, netascii: boolean, lim: Limits): Negotiated {
  const oack: Array<[string, string]> = [];
  let blksize = BLKSIZE_DEFAULT;
  let windowsize = 1;
  let timeoutMs = lim.timeoutMs;
  const bs = intOption(options['blksize']);
  if (bs !== null) {
    blksize = clamp(bs, BLKSIZE_MIN, lim.blockSizeMax);
    oack.push(['blksize', String(blksize)]);
  }
  // Any tsize value is answered (atftp sends "enable"). With netascii the transferred size differs from
  // the file size, so tsize is left out there, as tftp-hpa does.
  if (options['tsize'] !== undefined && !netascii) oack.push(['tsize', String(size)]);
  const to = intOption(options['timeout']);
  if (to !== null && to >= 1 && to <= 255) {
    timeoutMs = to * 1000;
    oack.push(['timeout', String(to)]);
  }
  const ws = intOption(options['windowsize']);
  if (ws !== null) {
    windowsize = clamp(ws, 1, lim.windowSizeMax);
    oack.push(['windowsize', String(windowsize)]);
  }
  return { blksize, windowsize, timeoutMs, oack: oack.length > 0 ? oack : null };
}

// netascii (RFC 764 NVT): LF -> CR LF, CR -> CR NUL. Byte-wise, so chunks convert independently.
function toNetascii(chunk: Buffer): Buffer {
  let extra = 0;
  for (const b of chunk) if (b === 0x0a || b === 0x0d) extra++;
  if (extra === 0) return chunk;
  const out = Buffer.alloc(chunk.length + extra);
  let j = 0;
  for (const b of chunk) {
    if (b === 0x0a) {
      out[j++] = 0x0d;
      out[j++] = 0x0a;
    } else if (b === 0x0d) {
      out[j++] = 0x0d;
      out[j++] = 0x00;
    } else out[j++] = b;
  }
  return out;
}

// ERROR packets also carry codes and texts from the file source: keep them encodable whatever it returns.
function errorPacket(code: number, message: string): Buffer {
  const c = Number.isInteger(code) && code >= 0 && code <= 0xffff ? code : ErrorCode.NOT_DEFINED;
  return encodeError(c, String(message).replace(/\0/g, ' ').slice(0, 200));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Cuts the file into blocks, reading at least READ_AHEAD bytes at a time (more when a window is larger),
// so a lock-step client does not cost one file read per block, and large files are never buffered whole.
// A block shorter than blksize (possibly empty) is the last one.
const READ_AHEAD = 64 * 1024;

class BlockReader {
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  private finished = false;

  constructor(
    private readonly file: TftpSourceFile,
    private readonly blksize: number,
    private readonly netascii: boolean,
  ) {}

  async next(count: number): Promise<Buffer[]> {
    const want = count * this.blksize;
    const size = this.file.size;
    while (this.pending.length < want && this.offset < size) {
      const len = Math.min(Math.max(want - this.pending.length, READ_AHEAD), size - this.offset);
      const chunk = await this.file.read(this.offset, len);
      // The advertised size is authoritative (it may have gone out as tsize): a file that shrank is an
      // error, extra bytes from a file that grew are cut off.
      if (chunk.length < len) throw new Error(`read returned ${chunk.length} of ${len} bytes at offset ${this.offset}`);
      this.offset += len;
      const out = this.netascii ? toNetascii(chunk.subarray(0, len)) : chunk.subarray(0, len);
      this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, out]) : out;
    }
    const blocks: Buffer[] = [];
    while (blocks.length < count && !this.finished) {
      if (this.pending.length >= this.blksize) {
        blocks.push(this.pending.subarray(0, this.blksize));
        this.pending = this.pending.subarray(this.blksize);
      } else {
        blocks.push(this.pending);
        this.pending = Buffer.alloc(0);
        this.finished = true;
      }
    }
    return blocks;
  }
}

type Phase = 'opening' | 'oack' | 'data' | 'reading' | 'done';

interface Host {
  readonly limits: Limits;
  emit(ev: TftpEvent): void;
  release(t: Transfer): void;
}

class Transfer {
  phase: Phase = 'opening';
  readonly key: string;
  readonly startedAt = performance.now();
  private socket: dgram.Socket | null = null;
  private file: TftpSourceFile | null = null;
  private reader: BlockReader | null = null;
  private blksize = BLKSIZE_DEFAULT;
  private windowsize = 1;
  private timeoutMs: number;
  private oackPacket: Buffer | null = null;
  // Encoded DATA packets for blocks base .. base + window.length - 1 (absolute, not wrapped, numbers).
  private window: Buffer[] = [];
  private base = 1;
  private finalBlock = -1;
  private bytesProduced = 0;
  private attempts = 0;
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private inflight = 0;
  private onDrained: (() => void) | null = null;
  private openSettled = false;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly host: Host,
    readonly request: RequestPacket,
    readonly raw: Buffer,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.key = `${remoteAddress}|${remotePort}`;
    this.timeoutMs = host.limits.timeoutMs;
  }

  get filename(): string {
    return this.request.filename;
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  // Called once open() succeeded and the transfer socket is bound.
  begin(file: TftpSourceFile, socket: dgram.Socket): void {
    this.openSettled = true;
    this.file = file;
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => this.abort(`transfer socket error: ${err.message}`, null));
    const netascii = this.request.mode === 'netascii';
    const neg = negotiate(this.request.options, file.size, netascii, this.host.limits);
    this.blksize = neg.blksize;
    this.windowsize = neg.windowsize;
    this.timeoutMs = neg.timeoutMs;
    this.reader = new BlockReader(file, this.blksize, netascii);
    if (neg.oack) {
      this.oackPacket = encodeOack(neg.oack);
      this.phase = 'oack';
      this.send(this.oackPacket);
      this.armTimer();
    } else {
      this.refill();
    }
  }

  // Called when open() failed, or returned a file after the transfer was already ended (stop,
  // superseded): the late file is closed before 'closed' resolves.
  discard(file: TftpSourceFile | null): void {
    this.openSettled = true;
    if (!this.closing) {
      this.file = file;
      void this.cleanup();
      return;
    }
    void (file ? file.close().catch(() => undefined) : Promise.resolve()).then(() => this.resolveClosed());
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.done) return;
    if (rinfo.address !== this.remoteAddress || rinfo.port !== this.remotePort) {
      // RFC 1350: a packet from a foreign TID is answered with error 5 and does not disturb the transfer.
      // Errors are never answered, to avoid error ping-pong.
      const p = parsePacket(msg);
      if (!(p.ok && p.packet.op === 'ERROR')) {
        this.sendTo(errorPacket(ErrorCode.UNKNOWN_TID, 'unknown transfer ID'), rinfo.port, rinfo.address);
      }
      this.host.emit({ type: 'malformed', remoteAddress: rinfo.address, remotePort: rinfo.port, reason: 'unknown transfer ID' });
      return;
    }
    if (msg.length < 4) {
      this.host.emit({ type: 'malformed', remoteAddress: rinfo.address, remotePort: rinfo.port, reason: `runt datagram (${msg.length} bytes)` });
      return;
    }
    const parsed = parsePacket(msg);
    if (!parsed.ok) {
      this.host.emit({ type: 'malformed', remoteAddress: rinfo.address, remotePort: rinfo.port, reason: parsed.reason });
      return;
    }
    const p = parsed.packet;
    if (p.op === 'ACK') this.onAck(p.block);
    else if (p.op === 'ERROR') this.abort(`client sent ERROR ${p.code}${p.message ? `: ${p.message}` : ''}`, null);
    else this.host.emit({ type: 'malformed', remoteAddress: rinfo.address, remotePort: rinfo.port, reason: `unexpected ${p.op} on a transfer` });
  }

  private onAck(block: number): void {
    if (this.phase === 'oack') {
      if (block !== 0) return;
      this.clearTimer();
      this.attempts = 0;
      this.refill();
      return;
    }
    // While the next blocks are being read, ACKs can only be duplicates or refer to blocks that are about
    // to be resent anyway.
    if (this.phase !== 'data') return;
    const delta = (block - (this.base & 0xffff)) & 0xffff;
    // Before the window (duplicate or stale ACK) or beyond it: ignored, the timer retransmits if needed.
    if (delta >= this.window.length) return;
    const acked = this.base + delta;
    this.clearTimer();
    this.attempts = 0;
    if (acked === this.finalBlock) {
      this.complete();
      return;
    }
    // Last block of the window: slide fully. Earlier block (RFC 7440 partial ACK): resume after it.
    this.window.splice(0, delta + 1);
    this.base = acked + 1;
    this.refill();
  }

  // An unexpected exception ends this transfer, never the process.
  private refill(): void {
    this.fill().catch((err: unknown) => this.abort(`internal error: ${describe(err)}`, 'internal error'));
  }

  // Tops the window up to windowsize blocks, then (re)sends the whole window.
  private async fill(): Promise<void> {
    this.phase = 'reading';
    const need = this.windowsize - this.window.length;
    if (need > 0 && this.finalBlock < 0 && this.reader) {
      let blocks: Buffer[];
      try {
        blocks = await this.reader.next(need);
      } catch (err) {
        this.abort(`read error: ${describe(err)}`, 'read error');
        return;
      }
      if (this.done) return;
      for (const data of blocks) {
        const abs = this.base + this.window.length;
        this.window.push(encodeData(abs & 0xffff, data));
        this.bytesProduced += data.length;
        if (data.length < this.blksize) this.finalBlock = abs;
      }
    }
    this.phase = 'data';
    this.sendWindow();
    this.armTimer();
  }

  private sendWindow(): void {
    for (const pkt of this.window) this.send(pkt);
  }

  // Exponential backoff on consecutive timeouts (RFC 1123 4.2.3.2), capped at 4x. Besides congestion, it
  // rescues clients that re-ACK a duplicate only once (atftp): their own timer then fires between our
  // retransmissions and repeats the lost ACK.
  private armTimer(): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.onTimeout(), this.timeoutMs * Math.min(4, 2 ** this.attempts));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.done) return;
    if (this.attempts >= this.host.limits.retries) {
      this.abort(`timeout after ${this.attempts} retransmissions`, 'timeout');
      return;
    }
    this.attempts++;
    if (this.phase === 'oack' && this.oackPacket) this.send(this.oackPacket);
    else if (this.phase === 'data') this.sendWindow();
    this.armTimer();
  }

  private send(pkt: Buffer): void {
    this.sendTo(pkt, this.remotePort, this.remoteAddress);
  }

  private sendTo(pkt: Buffer, port: number, address: string): void {
    const s = this.socket;
    if (!s) return;
    this.inflight++;
    try {
      // Send failures (ENOBUFS, EPERM from a firewall) are treated like loss: the timer retries.
      s.send(pkt, port, address, () => this.sent());
    } catch {
      this.sent();
    }
  }

  private sent(): void {
    this.inflight--;
    if (this.inflight === 0 && this.onDrained) {
      const f = this.onDrained;
      this.onDrained = null;
      f();
    }
  }

  // Closing a dgram socket drops datagrams still queued in it, so the final ERROR to the client would be
  // lost: close only once every send has completed.
  private closeSocket(socket: dgram.Socket): Promise<void> {
    return new Promise((resolve) => {
      const close = (): void => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      };
      if (this.inflight === 0) close();
      else this.onDrained = close;
    });
  }

  private complete(): void {
    this.host.emit({
      type: 'complete',
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      filename: this.filename,
      bytes: this.bytesProduced,
      blksize: this.blksize,
      windowsize: this.windowsize,
      durationMs: performance.now() - this.startedAt,
    });
    void this.cleanup();
  }

  // Ends the transfer with an 'aborted' event. errorMessage: ERROR 0 text for the client, or null to
  // stay silent (the client already gave up or sent the error itself).
  abort(reason: string, errorMessage: string | null): void {
    if (this.done) return;
    if (errorMessage !== null) this.send(errorPacket(ErrorCode.NOT_DEFINED, errorMessage));
    this.host.emit({ type: 'aborted', remoteAddress: this.remoteAddress, remotePort: this.remotePort, filename: this.filename, bytesSent: this.bytesProduced, reason });
    void this.cleanup();
  }

  private cleanup(): Promise<void> {
    if (this.closing) return this.closing;
    this.phase = 'done';
    this.clearTimer();
    this.window = [];
    this.host.release(this);
    const socket = this.socket;
    this.socket = null;
    const file = this.file;
    this.file = null;
    // While open() is still pending, discard() closes whatever it returns and resolves 'closed'.
    const settled = this.openSettled;
    this.closing = Promise.all([
      socket ? this.closeSocket(socket) : undefined,
      file ? file.close().catch(() => undefined) : undefined,
    ]).then(() => {
      if (settled) this.resolveClosed();
    });
    return this.closing;
  }
}

function bindSocket(type: 'udp4' | 'udp6', host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type });
    const onError = (err: Error): void => {
      try {
        socket.close();
      } catch {
        // never bound
      }
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export class TftpServer {
  private readonly opts: TftpServerOptions;
  private readonly limits: Limits;
  private readonly type: 'udp4' | 'udp6';
  private socket: dgram.Socket | null = null;
  private readonly transfers = new Map<string, Transfer>();
  private readonly perClient = new Map<string, number>();
  private stopping = false;

  constructor(opts: TftpServerOptions) {
    this.opts = opts;
    this.type = net.isIPv6(opts.host) ? 'udp6' : 'udp4';
    this.limits = {
      blockSizeMax: clamp(Math.floor(opts.blockSizeMax ?? 1468), BLKSIZE_MIN, BLKSIZE_MAX),
      windowSizeMax: clamp(Math.floor(opts.windowSizeMax ?? 16), 1, WINDOWSIZE_MAX),
      timeoutMs: Math.max(1, opts.timeoutMs ?? 1000),
      retries: Math.max(0, Math.floor(opts.retries ?? 5)),
      maxTransfers: Math.max(1, Math.floor(opts.maxTransfers ?? 256)),
      maxPerClient: Math.max(1, Math.floor(opts.maxPerClient ?? 8)),
    };
  }

  async start(): Promise<void> {
    if (this.socket) throw new Error('TFTP server already started');
    this.stopping = false;
    const socket = await bindSocket(this.type, this.opts.host, this.opts.port);
    // Request floods and busy loops should not turn into an unhandled 'error' event.
    socket.on('error', () => undefined);
    socket.on('message', (msg, rinfo) => this.onRequest(msg, rinfo));
    this.socket = socket;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    const all = [...this.transfers.values()];
    for (const t of all) t.abort('server stopped', 'server shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(all.map((t) => t.closed)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  address(): { address: string; port: number } {
    if (!this.socket) throw new Error('TFTP server not started');
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  activeTransfers(): number {
    return this.transfers.size;
  }

  private emit(ev: TftpEvent): void {
    try {
      this.opts.onEvent?.(ev);
    } catch {
      // A faulty listener must not take the server down.
    }
  }

  private sendFromMain(pkt: Buffer, port: number, address: string): void {
    try {
      this.socket?.send(pkt, port, address, () => undefined);
    } catch {
      // socket closed meanwhile
    }
  }

  private deny(rinfo: dgram.RemoteInfo, filename: string, code: number, reason: string, message = reason): void {
    this.sendFromMain(errorPacket(code, message), rinfo.port, rinfo.address);
    this.emit({ type: 'denied', remoteAddress: rinfo.address, filename, code, reason });
  }

  private malformed(rinfo: dgram.RemoteInfo, reason: string): void {
    this.emit({ type: 'malformed', remoteAddress: rinfo.address, remotePort: rinfo.port, reason });
  }

  private onRequest(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.stopping) return;
    if (msg.length < 4) {
      this.malformed(rinfo, `runt datagram (${msg.length} bytes)`);
      return;
    }
    const parsed = parsePacket(msg);
    if (!parsed.ok) {
      this.malformed(rinfo, parsed.reason);
      return;
    }
    const p = parsed.packet;
    if (p.op === 'WRQ') {
      this.deny(rinfo, p.filename, ErrorCode.ACCESS_VIOLATION, 'uploads are disabled');
      return;
    }
    if (p.op !== 'RRQ') {
      this.malformed(rinfo, `unexpected ${p.op} on the request port`);
      return;
    }
    const key = `${rinfo.address}|${rinfo.port}`;
    const existing = this.transfers.get(key);
    if (existing) {
      // A retransmitted RRQ while the answer is in flight: the transfer's own timer covers it.
      if (existing.raw.equals(msg)) return;
      existing.abort('superseded by a new request from the same port', null);
    }
    this.emit({ type: 'request', remoteAddress: rinfo.address, remotePort: rinfo.port, filename: p.filename, options: { ...p.options } });
    if (p.mode !== 'octet' && p.mode !== 'netascii') {
      this.deny(rinfo, p.filename, ErrorCode.ILLEGAL_OPERATION, `unsupported transfer mode "${p.mode}"`);
      return;
    }
    if (this.transfers.size >= this.limits.maxTransfers) {
      this.deny(rinfo, p.filename, ErrorCode.NOT_DEFINED, 'server busy (transfer limit reached)', 'server busy');
      return;
    }
    if ((this.perClient.get(rinfo.address) ?? 0) >= this.limits.maxPerClient) {
      this.deny(rinfo, p.filename, ErrorCode.NOT_DEFINED, 'server busy (per-client limit reached)', 'server busy');
      return;
    }
    const t = new Transfer(
      { limits: this.limits, emit: (ev) => this.emit(ev), release: (tr) => this.release(tr) },
      p,
      Buffer.from(msg),
      rinfo.address,
      rinfo.port,
    );
    // The slot is taken before open() so that concurrent requests cannot overshoot the caps.
    this.transfers.set(key, t);
    this.perClient.set(rinfo.address, (this.perClient.get(rinfo.address) ?? 0) + 1);
    this.startTransfer(t, rinfo).catch((err: unknown) => {
      t.abort(`internal error: ${describe(err)}`, 'internal error');
      t.discard(null);
    });
  }

  private async startTransfer(t: Transfer, rinfo: dgram.RemoteInfo): Promise<void> {
    let result: TftpOpenResult;
    try {
      result = await this.opts.open({ filename: t.filename, remoteAddress: t.remoteAddress, remotePort: t.remotePort, options: { ...t.request.options } });
    } catch (err) {
      result = { ok: false, code: ErrorCode.NOT_DEFINED, message: `open failed: ${describe(err)}` };
    }
    if (t.done) {
      t.discard(result.ok ? result.file : null);
      return;
    }
    if (!result.ok) {
      t.discard(null);
      this.deny(rinfo, t.filename, result.code, result.message);
      return;
    }
    let socket: dgram.Socket;
    try {
      socket = await bindSocket(this.type, this.opts.host, 0);
    } catch (err) {
      t.discard(result.file);
      this.deny(rinfo, t.filename, ErrorCode.NOT_DEFINED, `cannot bind transfer socket: ${describe(err)}`, 'server error');
      return;
    }
    if (t.done) {
      socket.close();
      t.discard(result.file);
      return;
    }
    t.begin(result.file, socket);
  }

  private release(t: Transfer): void {
    if (this.transfers.get(t.key) === t) this.transfers.delete(t.key);
    else return;
    const n = (this.perClient.get(t.remoteAddress) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(t.remoteAddress);
    else this.perClient.set(t.remoteAddress, n);
  }
}
