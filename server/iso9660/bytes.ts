// Field decoders shared by the descriptor, directory-record and Rock Ridge parsers. Callers check
// bounds first; these only interpret bytes.

/** ISO9660 "both-endian" 32-bit field: the little-endian half is used (as Linux does). */
export const u32both = (b: Buffer, off: number): number => b.readUInt32LE(off);
export const u16both = (b: Buffer, off: number): number => b.readUInt16LE(off);

/** An a-/d-character field: latin1, trailing spaces and NULs dropped. */
export function padded(b: Buffer, off: number, len: number): string {
  return b
    .toString('latin1', off, off + len)
    .replace(/[\0 ]+$/, '');
}

/** UCS-2 big-endian (Joliet), decoded as UTF-16BE; an odd trailing byte is ignored. */
export function ucs2be(b: Buffer, off = 0, len = b.length - off): string {
  const even = len - (len % 2);
  const swapped = Buffer.alloc(even);
  for (let i = 0; i < even; i += 2) {
    swapped[i] = b[off + i + 1] ?? 0;
    swapped[i + 1] = b[off + i] ?? 0;
  }
  return swapped.toString('utf16le');
}

function utcDate(y: number, mo: number, d: number, h: number, mi: number, s: number, cs: number, gmtOff: number): Date | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  // The offset is in 15-minute steps east of UTC; -48..52 per ECMA-119.
  if (gmtOff < -48 || gmtOff > 52) gmtOff = 0;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, cs * 10) - gmtOff * 15 * 60_000;
  return Number.isFinite(ms) ? new Date(ms) : null;
}

/** 7-byte directory record time (years since 1900); all zero means "not specified". */
export function recordDate(b: Buffer, off: number): Date | null {
  const y = b[off] ?? 0;
  const mo = b[off + 1] ?? 0;
  if (y === 0 && mo === 0) return null;
  return utcDate(1900 + y, mo, b[off + 2] ?? 0, b[off + 3] ?? 0, b[off + 4] ?? 0, b[off + 5] ?? 0, 0, b.readInt8(off + 6));
}

/** 17-byte volume descriptor time "YYYYMMDDHHMMSScc" + offset; zeros or non-digits mean "not specified". */
export function decDate(b: Buffer, off: number): Date | null {
  const digits = b.toString('latin1', off, off + 16);
  if (!/^\d{16}$/.test(digits) || /^0+$/.test(digits)) return null;
  const n = (a: number, l: number): number => Number(digits.slice(a, a + l));
  const y = n(0, 4);
  if (y === 0) return null;
  return utcDate(y, n(4, 2), n(6, 2), n(8, 2), n(10, 2), n(12, 2), n(14, 2), b.readInt8(off + 16));
}
