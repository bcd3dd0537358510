// TFTP wire format (RFC 1350 packets, RFC 2347 option extension). Parsing is total: any byte string
// yields a result value, because every datagram on a TFTP port is attacker-controlled input.

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

// Option names are case-insensitive (RFC 2347), so parsed option maps use lower-case keys. The maps have a
// null prototype so names such as "__proto__" or "constructor" from the wire are plain keys.
export type TftpOptions = Record<string, string>;

export interface RequestPacket {
  op: 'RRQ' | 'WRQ';
  filename: string;
  mode: string; // lower-cased
  options: TftpOptions;
}
export interface DataPacket {
  op: 'DATA';
  block: number;
  data: Buffer;
}
export interface AckPacket {
  op: 'ACK';
  block: number;
}
export interface ErrorPacket {
  op: 'ERROR';
  code: number;
  message: string;
}
export interface OackPacket {
  op: 'OACK';
  options: TftpOptions;
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type ParseResult = { ok: true; packet: TftpPacket } | { ok: false; reason: string };

export function emptyOptions(): TftpOptions {
  return Object.create(null) as TftpOptions;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function fail(reason: string): ParseResult {
  return { ok: false, reason };
}

// Reads NUL-terminated strings from buf starting at pos; returns null when the terminator is missing or
// the bytes are not valid UTF-8.
function readString(buf: Buffer, pos: number): { value: string; next: number } | null {
  const end = buf.indexOf(0, pos);
  if (end < 0) return null;
  try {
    return { value: strictUtf8.decode(buf.subarray(pos, end)), next: end + 1 };
  } catch {
    return null;
  }
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

// Parses "name\0value\0" pairs from pos to the end. Trailing NUL padding (seen from some PXE ROMs) is
// accepted; a truncated pair is not. The first occurrence of a repeated name wins.
function parseOptions(buf: Buffer, pos: number): TftpOptions | string {
  const options = emptyOptions();
  while (pos < buf.length) {
    if (buf[pos] === 0 && allZero(buf, pos)) break;
    const name = readString(buf, pos);
    if (!name) return 'option name not terminated or not UTF-8';
    if (name.value.length === 0) return 'empty option name';
    const value = readString(buf, name.next);
    if (!value) return `option "${name.value}" has no terminated value`;
    const key = name.value.toLowerCase();
    if (!(key in options)) options[key] = value.value;
    pos = value.next;
  }
  return options;
}

function toBuffer(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

export function parsePacket(input: Uint8Array): ParseResult {
  const buf = toBuffer(input);
  if (buf.length < 2) return fail('datagram shorter than an opcode');
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const filename = readString(buf, 2);
      if (!filename) return fail('filename not terminated or not UTF-8');
      const mode = readString(buf, filename.next);
      if (!mode) return fail('mode not terminated or not UTF-8');
      if (mode.value.length === 0) return fail('empty mode');
      const options = parseOptions(buf, mode.next);
      if (typeof options === 'string') return fail(options);
      return {
        ok: true,
        packet: { op: opcode === Opcode.RRQ ? 'RRQ' : 'WRQ', filename: filename.value, mode: mode.value.toLowerCase(), options },
      };
    }
    case Opcode.DATA:
      if (buf.length < 4) return fail('DATA shorter than 4 bytes');
      return { ok: true, packet: { op: 'DATA', block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case Opcode.ACK:
      // Extra bytes after the block number are tolerated; nothing defined lives there.
      if (buf.length < 4) return fail('ACK shorter than 4 bytes');
      return { ok: true, packet: { op: 'ACK', block: buf.readUInt16BE(2) } };
    case Opcode.ERROR: {
      if (buf.length < 4) return fail('ERROR shorter than 4 bytes');
      const code = buf.readUInt16BE(2);
      // The message is only for humans: a missing terminator or bad UTF-8 is tolerated.
      const end = buf.indexOf(0, 4);
      const message = buf.toString('utf8', 4, end < 0 ? buf.length : end);
      return { ok: true, packet: { op: 'ERROR', code, message } };
    }
    case Opcode.OACK: {
      const options = parseOptions(buf, 2);
      if (typeof options === 'string') return fail(options);
      return { ok: true, packet: { op: 'OACK', options } };
    }
    default:
      return fail(`unknown opcode ${opcode}`);
  }
}

// Encoders are for trusted, locally built values and throw RangeError on values the wire cannot carry.

function checkBlock(block: number): void {
  if (!Number.isInteger(block) || block < 0 || block > 0xffff) throw new RangeError(`block number out of range: ${block}`);
}

function checkString(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.includes(0)) throw new RangeError(`${what} contains NUL`);
  return b;
}

function encodeStrings(opcode: number, strings: string[]): Buffer {
  const parts = strings.map((s, i) => checkString(s, i === 0 ? 'first field' : `field ${i}`));
  const out = Buffer.alloc(2 + parts.reduce((n, p) => n + p.length + 1, 0));
  out.writeUInt16BE(opcode, 0);
  let pos = 2;
  for (const p of parts) {
    p.copy(out, pos);
    pos += p.length + 1; // Buffer.alloc already zeroed the terminator
  }
  return out;
}

function optionStrings(options: Record<string, string> | ReadonlyArray<readonly [string, string]>): string[] {
  const pairs = Array.isArray(options) ? options : Object.entries(options);
  const out: string[] = [];
  for (const [name, value] of pairs as ReadonlyArray<readonly [string, string]>) {
    if (name.length === 0) throw new RangeError('empty option name');
    out.push(name, value);
  }
  return out;
}

export function encodeRequest(
  op: 'RRQ' | 'WRQ',
  filename: string,
  mode: string,
  options: Record<string, string> | ReadonlyArray<readonly [string, string]> = [],
): Buffer {
  if (mode.length === 0) throw new RangeError('empty mode');
  return encodeStrings(op === 'RRQ' ? Opcode.RRQ : Opcode.WRQ, [filename, mode, ...optionStrings(options)]);
}

export function encodeDataHeader(block: number): Buffer {
  checkBlock(block);
  const out = Buffer.alloc(4);
  out.writeUInt16BE(Opcode.DATA, 0);
  out.writeUInt16BE(block, 2);
  return out;
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  return Buffer.concat([encodeDataHeader(block), data]);
}

export function encodeAck(block: number): Buffer {
  checkBlock(block);
  const out = Buffer.alloc(4);
  out.writeUInt16BE(Opcode.ACK, 0);
  out.writeUInt16BE(block, 2);
  return out;
}

export function encodeError(code: number, message: string): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new RangeError(`error code out of range: ${code}`);
  const text = checkString(message, 'error message');
  const out = Buffer.alloc(4 + text.length + 1);
  out.writeUInt16BE(Opcode.ERROR, 0);
  out.writeUInt16BE(code, 2);
  text.copy(out, 4);
  return out;
}

export function encodeOack(options: Record<string, string> | ReadonlyArray<readonly [string, string]>): Buffer {
  return encodeStrings(Opcode.OACK, optionStrings(options));
}

export function encodePacket(p: TftpPacket): Buffer {
  switch (p.op) {
    case 'RRQ':
    case 'WRQ':
      return encodeRequest(p.op, p.filename, p.mode, p.options);
    case 'DATA':
      return encodeData(p.block, p.data);
    case 'ACK':
      return encodeAck(p.block);
    case 'ERROR':
      return encodeError(p.code, p.message);
    case 'OACK':
      return encodeOack(p.options);
  }
}
