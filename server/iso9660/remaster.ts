// A per-machine view of a stored ISO without copying it: the image is described as segments (ranges
// of the base file and small buffers). Replaced files get new contents appended after the end of the
// base file, sector aligned; the directory records that point at them are patched in every tree that
// lists them (ISO9660/Rock Ridge and Joliet share the file data, each tree has its own records), and
// the volume space size of every primary and supplementary descriptor grows to cover the new data.
// Only the El Torito boot images and the descriptors/records are read by firmware, so a hybrid GPT's
// backup header that no longer sits at the very end does not matter for CD-style boots.
import { SECTOR } from './descriptors.js';
import { failureOf, IsoFault } from './errors.js';
import { readVolumeTrees } from './reader.js';
import { fileSource, readExact, type ByteSource } from './source.js';
import type { IsoErrorCode, IsoOpenOptions } from './types.js';

export type IsoSegment = { kind: 'base'; offset: number; length: number } | { kind: 'bytes'; data: Buffer };

export interface RemasteredIso {
  /** Bytes of the whole virtual image: the sum of the segment lengths. */
  size: number;
  /** Size of the base file the 'base' segments refer to; a different file means a stale layout. */
  baseSize: number;
  segments: IsoSegment[];
  /** Where each replaced file's data now lives, and how many directory records were patched for it. */
  files: Array<{ path: string; offset: number; size: number; records: number }>;
}

export type RemasterErrorCode = IsoErrorCode | 'RB_ISO_NOT_FOUND' | 'RB_ISO_NOT_A_FILE' | 'RB_ISO_TOO_LARGE';
export type RemasterResult = { ok: true; image: RemasteredIso } | { ok: false; code: RemasterErrorCode; reason: string };

class RemasterRefused extends Error {
  constructor(
    readonly code: 'RB_ISO_NOT_FOUND' | 'RB_ISO_NOT_A_FILE' | 'RB_ISO_TOO_LARGE',
    reason: string,
  ) {
    super(reason);
  }
}

const align = (n: number): number => Math.ceil(n / SECTOR) * SECTOR;
const U32_MAX = 0xffff_ffff;

/** Remasters the image file at `path`; never throws for a bad image or a bad replacement. */
export async function remasterIso(path: string, replacements: ReadonlyMap<string, Buffer>, opts: IsoOpenOptions = {}): Promise<RemasterResult> {
  let src: ByteSource;
  try {
    src = await fileSource(path);
  } catch (e) {
    return { ok: false, ...failureOf(e) };
  }
  try {
    return await remasterSource(src, replacements, opts);
  } finally {
    await src.close().catch(() => undefined);
  }
}

export async function remasterSource(src: ByteSource, replacements: ReadonlyMap<string, Buffer>, opts: IsoOpenOptions = {}): Promise<RemasterResult> {
  try {
    return { ok: true, image: await layout(src, replacements, opts) };
  } catch (e) {
    if (e instanceof RemasterRefused) return { ok: false, code: e.code, reason: e.message };
    return { ok: false, ...failureOf(e) };
  }
}

function normalizePath(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) throw new RemasterRefused('RB_ISO_NOT_FOUND', `${p}: '..' is not allowed in a replaced path`);
  return `/${parts.join('/')}`;
}

async function layout(src: ByteSource, replacements: ReadonlyMap<string, Buffer>, opts: IsoOpenOptions): Promise<RemasteredIso> {
  const v = await readVolumeTrees(src, opts);
  const blockSize = v.desc.primary.logicalBlockSize;
  // Patched copies of whole 2048-byte sectors, by sector number. A directory record never crosses a
  // logical block (ECMA-119 6.8.1.1) and 2048 is a multiple of every allowed block size.
  const patched = new Map<number, Buffer>();
  const sectorAt = async (byte: number): Promise<{ buf: Buffer; off: number }> => {
    const n = Math.floor(byte / SECTOR);
    let buf = patched.get(n);
    if (buf === undefined) {
      buf = Buffer.from(await readExact(src, n * SECTOR, SECTOR, `sector ${n}`));
      patched.set(n, buf);
    }
    return { buf, off: byte - n * SECTOR };
  };
  const both32 = (buf: Buffer, off: number, value: number): void => {
    buf.writeUInt32LE(value, off);
    buf.writeUInt32BE(value, off + 4);
  };

  let end = align(src.size);
  const appended: Array<{ at: number; data: Buffer }> = [];
  const files: RemasteredIso['files'] = [];
  const seen = new Set<string>();
  for (const [raw, data] of replacements) {
    const path = normalizePath(raw);
    if (seen.has(path)) throw new RemasterRefused('RB_ISO_NOT_FOUND', `${path} is replaced twice`);
    seen.add(path);
    const entry = v.named.byPath.get(path);
    if (entry === undefined) throw new RemasterRefused('RB_ISO_NOT_FOUND', `${path}: no such file in the image (only existing files can be replaced)`);
    if (entry.isDirectory || entry.symlinkTarget !== undefined) throw new RemasterRefused('RB_ISO_NOT_A_FILE', `${path} is not a regular file`);
    if (entry.extents.length > 1) throw new RemasterRefused('RB_ISO_NOT_A_FILE', `${path} is a multi-extent file; only single-extent files can be replaced`);
    if (data.length > U32_MAX) throw new RemasterRefused('RB_ISO_TOO_LARGE', `${path}: replacement of ${data.length} bytes does not fit one extent`);
    if (end / blockSize > U32_MAX) throw new RemasterRefused('RB_ISO_TOO_LARGE', `${path}: the image is too large to append to`);
    // The same file in the other trees: by name (Joliet keeps long names) or by its shared data extent.
    const records = new Set(v.named.recordOffsets.get(path) ?? []);
    const extent = entry.extents[0];
    for (const t of v.others) {
      const byName = t.byPath.get(path);
      if (byName !== undefined && !byName.isDirectory) for (const at of t.recordOffsets.get(path) ?? []) records.add(at);
      if (extent === undefined) continue;
      for (const [p, e] of t.byPath) {
        if (!e.isDirectory && e.extents.length === 1 && e.extents[0]?.offset === extent.offset && e.size === entry.size) {
          for (const at of t.recordOffsets.get(p) ?? []) records.add(at);
        }
      }
    }
    for (const at of records) {
      const { buf, off } = await sectorAt(at);
      if (off + 33 > SECTOR) throw new IsoFault('RB_ISO_CORRUPT', `${path}: directory record at byte ${at} crosses a sector`);
      both32(buf, off + 2, end / blockSize); // extent location
      both32(buf, off + 10, data.length); // data length
    }
    files.push({ path, offset: end, size: data.length, records: records.size });
    appended.push({ at: end, data });
    end += align(data.length);
  }
  for (const at of v.desc.volumeDescriptorOffsets) {
    const { buf, off } = await sectorAt(at);
    both32(buf, off + 80, end / blockSize);
  }

  const segments: IsoSegment[] = [];
  let cursor = 0;
  for (const n of [...patched.keys()].sort((a, b) => a - b)) {
    if (n * SECTOR > cursor) segments.push({ kind: 'base', offset: cursor, length: n * SECTOR - cursor });
    segments.push({ kind: 'bytes', data: patched.get(n)! });
    cursor = (n + 1) * SECTOR;
  }
  if (src.size > cursor) segments.push({ kind: 'base', offset: cursor, length: src.size - cursor });
  const pad = (n: number): void => {
    if (n > 0) segments.push({ kind: 'bytes', data: Buffer.alloc(n) });
  };
  pad(align(src.size) - Math.max(src.size, cursor));
  for (const a of appended) {
    if (a.data.length > 0) segments.push({ kind: 'bytes', data: a.data });
    pad(align(a.data.length) - a.data.length);
  }
  return { size: end, baseSize: src.size, segments, files };
}
