// Byte-level encoders for the writer: ECMA-119 both-endian numbers, padded strings, dates, and
// the SUSP / Rock Ridge entries it emits. Pure functions of their inputs (deterministic output).

export function bothU32(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(v, 0);
  b.writeUInt32BE(v, 4);
  return b;
}

export function bothU16(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(v, 0);
  b.writeUInt16BE(v, 2);
  return b;
}

/** Latin-1 text padded with spaces to `len` bytes (a-/d-character fields). */
export function spaced(text: string, len: number): Buffer {
  const b = Buffer.alloc(len, 0x20);
  b.write(text.slice(0, len), 0, 'latin1');
  return b;
}

/** UTF-16BE bytes of `text`. */
export function utf16be(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) {
    const t = le[i] ?? 0;
    le[i] = le[i + 1] ?? 0;
    le[i + 1] = t;
  }
  return le;
}

/** Joliet text field: UCS-2BE padded with UCS-2 spaces (00 20) to `len` bytes. */
export function ucs2Spaced(text: string, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i + 1 < len; i += 2) b[i + 1] = 0x20;
  utf16be(text).copy(b, 0, 0, len - (len % 2));
  return b;
}

/** 7-byte directory record time, UTC. */
export function recordTime(d: Date): Buffer {
  return Buffer.from([d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0]);
}

const two = (n: number): string => String(n).padStart(2, '0');

/** 17-byte volume descriptor time "YYYYMMDDHHMMSScc" + zero GMT offset; null gives "not specified". */
export function volumeTime(d: Date | null): Buffer {
  const b = Buffer.alloc(17);
  const text = d
    ? `${String(d.getUTCFullYear()).padStart(4, '0')}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}${two(Math.floor(d.getUTCMilliseconds() / 10))}`
    : '0'.repeat(16);
  b.write(text, 0, 'latin1');
  return b;
}

function susp(sig: string, body: Buffer): Buffer {
  const head = Buffer.from([sig.charCodeAt(0), sig.charCodeAt(1), 4 + body.length, 1]);
  return Buffer.concat([head, body]);
}

/** SP: SUSP in use, no skipped bytes. */
export const spEntry = (): Buffer => susp('SP', Buffer.from([0xbe, 0xef, 0]));

/** PX in its RRIP 1.10 (36-byte) form, matching the RRIP_1991A ER. */
export const pxEntry = (mode: number, nlink: number): Buffer => susp('PX', Buffer.concat([bothU32(mode), bothU32(nlink), bothU32(0), bothU32(0)]));

/** TF with modify, access and attribute-change times, all `d`. */
export function tfEntry(d: Date): Buffer {
  const t = recordTime(d);
  return susp('TF', Buffer.concat([Buffer.from([0x0e]), t, t, t]));
}

export const nmEntry = (name: Buffer): Buffer => susp('NM', Buffer.concat([Buffer.from([0]), name]));

export const ceEntry = (lba: number, offset: number, length: number): Buffer =>
  susp('CE', Buffer.concat([bothU32(lba), bothU32(offset), bothU32(length)]));

const RRIP_ID = 'RRIP_1991A';
const RRIP_DES = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
const RRIP_SRC = 'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';

/** ER announcing RRIP 1.10; Linux needs it to prefer Rock Ridge over Joliet. */
export function erEntry(): Buffer {
  const id = Buffer.from(RRIP_ID, 'latin1');
  const des = Buffer.from(RRIP_DES, 'latin1');
  const src = Buffer.from(RRIP_SRC, 'latin1');
  return susp('ER', Buffer.concat([Buffer.from([id.length, des.length, src.length, 1]), id, des, src]));
}
