// System Use Sharing Protocol (SUSP 1.12): the entries of a directory record's System Use area,
// following CE continuation areas. Continuations are bounded in count and bytes and may not
// revisit an area, so a hostile image cannot loop or make us read without end.
import { corrupt } from './errors.js';
import { u32both } from './bytes.js';
import { readExact, type ByteSource } from './source.js';

export interface SuspEntry {
  /** Two-letter signature, e.g. 'NM'. */
  sig: string;
  version: number;
  /** The whole entry, header included (so field offsets match the specs). */
  raw: Buffer;
}

export interface SuspLimits {
  src: ByteSource;
  blockSize: number;
  volumeBytes: number;
  /** Continuation areas followed per record. */
  maxContinuations: number;
  /** Continuation bytes read per record. */
  maxContinuationBytes: number;
}

/** `SP` at the start of the root's '.' record: SUSP is in use; returns its skip count, else null. */
export function suspSkip(rootDotSystemUse: Buffer): number | null {
  const b = rootDotSystemUse;
  if (b.length < 7 || b[0] !== 0x53 || b[1] !== 0x50 || b[2] !== 7 || b[4] !== 0xbe || b[5] !== 0xef) return null;
  return b[6] ?? 0;
}

/** Entries of one area, plus where it continues. Malformed tails (padding, foreign data) end the area quietly, as in Linux. */
function parseArea(area: Buffer, out: SuspEntry[]): { lba: number; offset: number; length: number } | null {
  let next: { lba: number; offset: number; length: number } | null = null;
  let at = 0;
  while (at + 4 <= area.length) {
    const len = area[at + 2] ?? 0;
    if (len < 4 || at + len > area.length) break;
    const raw = area.subarray(at, at + len);
    const sig = raw.toString('latin1', 0, 2);
    if (sig === 'ST') break;
    if (sig === 'CE') {
      if (len >= 28) next = { lba: u32both(raw, 4), offset: u32both(raw, 12), length: u32both(raw, 20) };
    } else {
      out.push({ sig, version: raw[3] ?? 0, raw });
    }
    at += len;
  }
  return next;
}

/** All entries of a record's System Use area and its continuation chain. Throws IsoFault on a bad chain. */
export async function collectSusp(systemUse: Buffer, limits: SuspLimits, where: string): Promise<SuspEntry[]> {
  const out: SuspEntry[] = [];
  let next = parseArea(systemUse, out);
  const visited = new Set<number>();
  let hops = 0;
  let bytes = 0;
  while (next) {
    const pos = next.lba * limits.blockSize + next.offset;
    if (visited.has(pos)) throw corrupt(`${where}: SUSP continuation (CE) loop back to byte ${pos}`);
    visited.add(pos);
    hops++;
    bytes += next.length;
    if (hops > limits.maxContinuations) throw corrupt(`${where}: more than ${limits.maxContinuations} SUSP continuation areas`);
    if (bytes > limits.maxContinuationBytes) throw corrupt(`${where}: SUSP continuation areas exceed ${limits.maxContinuationBytes} bytes`);
    if (next.length === 0) break;
    if (pos + next.length > limits.volumeBytes) {
      throw corrupt(`${where}: SUSP continuation area at byte ${pos} (${next.length} bytes) lies past the end of the volume`);
    }
    const area = await readExact(limits.src, pos, next.length, `${where}: SUSP continuation area`);
    next = parseArea(area, out);
  }
  return out;
}
