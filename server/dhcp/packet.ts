// DHCPv4 wire codec: RFC 2131 header, RFC 2132 option TLVs, RFC 3396 long options and
// option 52 overload. Neither decode nor encode throws: bad input comes back as a reason.

export interface DhcpPacket {
  op: number; // 1 BOOTREQUEST, 2 BOOTREPLY
  htype: number;
  hlen: number;
  hops: number;
  xid: number; // uint32
  secs: number;
  flags: number; // bit 0x8000 = broadcast
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string; // dotted quads, '0.0.0.0' when zero
  chaddr: Buffer; // always 16 bytes, raw
  sname: string; // latin1, cut at the first NUL
  file: string; // latin1, cut at the first NUL
  options: Map<number, Buffer>; // insertion order kept; pad, end and overload (52) never stored
}

export type DecodeResult = { ok: true; packet: DhcpPacket } | { ok: false; reason: string };
export type EncodeResult = { ok: true; data: Buffer } | { ok: false; reason: string };

const HEADER_LEN = 236;
const COOKIE = 0x63825363; // 99.130.83.99
const OPTIONS_OFF = HEADER_LEN + 4;
const BOOTP_MIN = 300; // some PXE ROMs drop shorter replies
const DEFAULT_MAX = 1500 - 28; // Ethernet MTU minus IP and UDP headers
const FLOOR_MAX = 576 - 28; // every host must accept a 576-byte datagram
const SNAME_OFF = 44;
const SNAME_LEN = 64;
const FILE_OFF = 108;
const FILE_LEN = 128;
const PAD = 0;
const END = 255;
const OVERLOAD = 52;
const OVERLOAD_FILE = 1;
const OVERLOAD_SNAME = 2;

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Formats 4 bytes at `off` as a dotted quad. Caller guarantees the bounds. */
export function formatIp(buf: Buffer, off = 0): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** Strict dotted-quad parse (no leading zeros, which some parsers read as octal); null if invalid. */
export function parseIp(ip: string): Buffer | null {
  if (typeof ip !== 'string') return null;
  const m = IPV4.exec(ip);
  if (!m) return null;
  return Buffer.from([Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])]);
}

type Chunks = Map<number, Buffer[]>;

/** Walks TLVs in [start, end); returns a reason on overrun, null when fine. */
function readOptions(buf: Buffer, start: number, end: number, where: string, out: Chunks): string | null {
  let i = start;
  while (i < end) {
    const code = buf[i] ?? END;
    if (code === PAD) {
      i += 1;
      continue;
    }
    if (code === END) return null;
    if (i + 1 >= end) return `option ${code} in ${where} at offset ${i} has no length byte`;
    const len = buf[i + 1] ?? 0;
    const stop = i + 2 + len;
    if (stop > end) return `option ${code} in ${where} at offset ${i} runs ${stop - end} bytes past the end`;
    const chunk = buf.subarray(i + 2, stop);
    const list = out.get(code);
    if (list) list.push(chunk);
    else out.set(code, [chunk]);
    i = stop;
  }
  return null; // a missing end option is tolerated: some clients omit it
}

function cString(buf: Buffer, off: number, len: number): string {
  const field = buf.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.toString('latin1', 0, nul < 0 ? len : nul);
}

function decodeUnchecked(buf: Buffer): DecodeResult {
  if (!Buffer.isBuffer(buf)) return fail('input is not a Buffer');
  if (buf.length < OPTIONS_OFF) return fail(`packet too short: ${buf.length} bytes, need at least ${OPTIONS_OFF}`);
  const op = buf.readUInt8(0);
  if (op !== 1 && op !== 2) return fail(`bad op ${op}`);
  const hlen = buf.readUInt8(2);
  if (hlen > 16) return fail(`bad hlen ${hlen}`);
  if (buf.readUInt32BE(HEADER_LEN) !== COOKIE) return fail('bad magic cookie');

  const chunks: Chunks = new Map();
  const err = readOptions(buf, OPTIONS_OFF, buf.length, 'options', chunks);
  if (err) return fail(err);

  // Only the options field may carry 52; the fields it names are read after it, file first (RFC 3396).
  let overload = 0;
  const ov = chunks.get(OVERLOAD);
  if (ov) {
    const v = Buffer.concat(ov);
    if (v.length !== 1 || v[0] === undefined || v[0] < 1 || v[0] > 3) return fail('bad option overload (52) value');
    overload = v[0];
    chunks.delete(OVERLOAD);
  }
  if (overload & OVERLOAD_FILE) {
    const e = readOptions(buf, FILE_OFF, FILE_OFF + FILE_LEN, 'file', chunks);
    if (e) return fail(e);
  }
  if (overload & OVERLOAD_SNAME) {
    const e = readOptions(buf, SNAME_OFF, SNAME_OFF + SNAME_LEN, 'sname', chunks);
    if (e) return fail(e);
  }
  chunks.delete(OVERLOAD); // a stray 52 inside file/sname means nothing

  const options = new Map<number, Buffer>();
  for (const [code, list] of chunks) options.set(code, Buffer.concat(list));

  return {
    ok: true,
    packet: {
      op,
      htype: buf.readUInt8(1),
      hlen,
      hops: buf.readUInt8(3),
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      flags: buf.readUInt16BE(10),
      ciaddr: formatIp(buf, 12),
      yiaddr: formatIp(buf, 16),
      siaddr: formatIp(buf, 20),
      giaddr: formatIp(buf, 24),
      chaddr: Buffer.from(buf.subarray(28, 44)),
      sname: overload & OVERLOAD_SNAME ? '' : cString(buf, SNAME_OFF, SNAME_LEN),
      file: overload & OVERLOAD_FILE ? '' : cString(buf, FILE_OFF, FILE_LEN),
      options,
    },
  };
}

export function decodePacket(buf: Buffer): DecodeResult {
  try {
    return decodeUnchecked(buf);
  } catch (e) {
    return fail(`internal decode error: ${String(e)}`); // a bug; the fuzz test asserts this never happens
  }
}

const isInt = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

function checkString(name: string, s: unknown, max: number): string | null {
  if (typeof s !== 'string') return `${name} is not a string`;
  if (s.length > max) return `${name} longer than ${max} characters`;
  // latin1 only, and no NUL: either would not survive the round trip
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0xff) return `${name} has a character outside latin1 or a NUL`;
  }
  return null;
}

function checkPacket(p: DhcpPacket): string | null {
  if (typeof p !== 'object' || p === null) return 'packet is not an object';
  if (p.op !== 1 && p.op !== 2) return `bad op ${String(p.op)}`;
  if (!isInt(p.htype, 0xff)) return 'bad htype';
  if (!isInt(p.hlen, 16)) return 'bad hlen';
  if (!isInt(p.hops, 0xff)) return 'bad hops';
  if (!isInt(p.xid, 0xffffffff)) return 'bad xid';
  if (!isInt(p.secs, 0xffff)) return 'bad secs';
  if (!isInt(p.flags, 0xffff)) return 'bad flags';
  for (const k of ['ciaddr', 'yiaddr', 'siaddr', 'giaddr'] as const) {
    if (!parseIp(p[k])) return `bad ${k} ${String(p[k])}`;
  }
  if (!Buffer.isBuffer(p.chaddr) || p.chaddr.length > 16) return 'chaddr must be a Buffer of at most 16 bytes';
  const s = checkString('sname', p.sname, SNAME_LEN - 1) ?? checkString('file', p.file, FILE_LEN - 1);
  if (s) return s;
  if (!(p.options instanceof Map)) return 'options is not a Map';
  for (const [code, value] of p.options) {
    if (!isInt(code, 254) || code === PAD) return `bad option code ${String(code)}`;
    if (!Buffer.isBuffer(value)) return `option ${code} value is not a Buffer`;
  }
  return null;
}

/** One TLV per 255-byte slice (RFC 3396); an empty value still gets one instance. */
function instances(options: Map<number, Buffer>): Buffer[] {
  const out: Buffer[] = [];
  for (const [code, value] of options) {
    if (code === OVERLOAD) continue; // the encoder owns overload
    let off = 0;
    do {
      const part = value.subarray(off, off + 255);
      out.push(Buffer.concat([Buffer.from([code, part.length]), part]));
      off += 255;
    } while (off < value.length);
  }
  return out;
}

interface Area {
  flag: number; // 0 for the options field
  off: number;
  cap: number; // bytes available for TLVs, end option excluded
  parts: Buffer[];
  used: number;
}

function effectiveMax(maxSize: unknown): number {
  const want = typeof maxSize === 'number' && Number.isFinite(maxSize) ? Math.floor(maxSize) : DEFAULT_MAX;
  return Math.max(FLOOR_MAX, want);
}

/**
 * Options stay in map order within each area. With overload each TLV goes to the first area
 * (options, file, sname) with room. Split values still re-join in order: every slice but the
 * last is 257 bytes on the wire, more than file or sname can hold, so only a last slice can
 * land outside the options field.
 */
function layout(p: DhcpPacket, insts: Buffer[], limit: number): Area[] | string {
  const total = insts.reduce((n, b) => n + b.length, 0);
  const main: Area = { flag: 0, off: OPTIONS_OFF, cap: limit - OPTIONS_OFF - 1, parts: insts, used: total };
  if (total <= main.cap) return [main];

  const areas: Area[] = [{ ...main, cap: limit - OPTIONS_OFF - 3 - 1, parts: [], used: 0 }];
  if (p.file === '') areas.push({ flag: OVERLOAD_FILE, off: FILE_OFF, cap: FILE_LEN - 1, parts: [], used: 0 });
  if (p.sname === '') areas.push({ flag: OVERLOAD_SNAME, off: SNAME_OFF, cap: SNAME_LEN - 1, parts: [], used: 0 });
  for (const inst of insts) {
    let a = 0;
    while (a < areas.length && (areas[a]?.used ?? 0) + inst.length > (areas[a]?.cap ?? 0)) a++;
    const area = areas[a];
    if (!area) return `options (${total} bytes) do not fit in ${limit} bytes even with overload`;
    area.parts.push(inst);
    area.used += inst.length;
  }
  return areas;
}

function encodeUnchecked(p: DhcpPacket, opts?: { maxSize?: number }): EncodeResult {
  const bad = checkPacket(p);
  if (bad) return fail(bad);
  const limit = effectiveMax(opts?.maxSize);
  const areas = layout(p, instances(p.options), limit);
  if (typeof areas === 'string') return fail(areas);

  const overload = areas.reduce((f, a) => f | (a.used > 0 ? a.flag : 0), 0);
  const main = areas[0];
  if (!main) return fail('no options area'); // unreachable; keeps the types honest
  if (overload) main.parts.push(Buffer.from([OVERLOAD, 1, overload]));
  const mainLen = main.parts.reduce((n, b) => n + b.length, 0);
  const buf = Buffer.alloc(Math.max(BOOTP_MIN, OPTIONS_OFF + mainLen + 1)); // zero fill = pad

  buf.writeUInt8(p.op, 0);
  buf.writeUInt8(p.htype, 1);
  buf.writeUInt8(p.hlen, 2);
  buf.writeUInt8(p.hops, 3);
  buf.writeUInt32BE(p.xid, 4);
  buf.writeUInt16BE(p.secs, 8);
  buf.writeUInt16BE(p.flags, 10);
  (['ciaddr', 'yiaddr', 'siaddr', 'giaddr'] as const).forEach((k, i) => parseIp(p[k])?.copy(buf, 12 + 4 * i));
  p.chaddr.copy(buf, 28);
  if (!(overload & OVERLOAD_SNAME)) buf.write(p.sname, SNAME_OFF, SNAME_LEN - 1, 'latin1');
  if (!(overload & OVERLOAD_FILE)) buf.write(p.file, FILE_OFF, FILE_LEN - 1, 'latin1');
  buf.writeUInt32BE(COOKIE, HEADER_LEN);

  for (const area of areas) {
    if (area.flag !== 0 && area.used === 0) continue;
    let at = area.off;
    for (const part of area.parts) at += part.copy(buf, at);
    buf.writeUInt8(END, at);
  }
  return { ok: true, data: buf };
}

export function encodePacket(p: DhcpPacket, opts?: { maxSize?: number }): EncodeResult {
  try {
    return encodeUnchecked(p, opts);
  } catch (e) {
    return fail(`internal encode error: ${String(e)}`); // a bug; the fuzz test asserts this never happens
  }
}

/** 'aa:bb:cc:dd:ee:ff' for Ethernet (htype 1, hlen 6), else null. */
export function clientMac(p: DhcpPacket): string | null {
  if (p.htype !== 1 || p.hlen !== 6 || p.chaddr.length < 6) return null;
  return Array.from(p.chaddr.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Reply skeleton per RFC 2131 table 3: the fields a server copies from the request, the rest zero. */
export function emptyReply(req: DhcpPacket): DhcpPacket {
  return {
    op: 2,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: req.giaddr,
    chaddr: Buffer.from(req.chaddr),
    sname: '',
    file: '',
    options: new Map(),
  };
}
