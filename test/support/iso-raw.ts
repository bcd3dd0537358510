// Raw ISO9660 access for building corrupt and synthetic images in tests. Deliberately independent of
// server/iso9660 (no shared parsing), so a bug in the reader cannot hide itself in its own fixtures.
export const SECTOR = 2048;
export const PVD = 16 * SECTOR;

export interface RawRecord {
  /** Absolute byte offset of the record in the image. */
  at: number;
  length: number;
  lba: number;
  size: number;
  flags: number;
  /** ISO9660 identifier as latin1 ('\0' for '.', '\x01' for '..'). */
  id: string;
  /** Absolute offset of the System Use area. */
  suAt: number;
}

export function setBoth32(b: Buffer, at: number, v: number): void {
  b.writeUInt32LE(v >>> 0, at);
  b.writeUInt32BE(v >>> 0, at + 4);
}

export function setBoth16(b: Buffer, at: number, v: number): void {
  b.writeUInt16LE(v, at);
  b.writeUInt16BE(v, at + 2);
}

function recordAt(iso: Buffer, at: number): RawRecord {
  const length = iso[at] ?? 0;
  const idLen = iso[at + 32] ?? 0;
  return {
    at,
    length,
    lba: iso.readUInt32LE(at + 2),
    size: iso.readUInt32LE(at + 10),
    flags: iso[at + 25] ?? 0,
    id: iso.toString('latin1', at + 33, at + 33 + idLen),
    suAt: at + 33 + idLen + (idLen % 2 === 0 ? 1 : 0),
  };
}

/** The root record inside a volume descriptor (primary: sector 16). */
export const rootRecord = (iso: Buffer, descriptorSector = 16): RawRecord => recordAt(iso, descriptorSector * SECTOR + 156);

/** Every record of a directory extent, '.' and '..' included. */
export function records(iso: Buffer, dir: RawRecord): RawRecord[] {
  const out: RawRecord[] = [];
  const start = dir.lba * SECTOR;
  let at = start;
  while (at < start + dir.size) {
    if (iso[at] === 0) {
      at = at - (at % SECTOR) + SECTOR;
      continue;
    }
    const r = recordAt(iso, at);
    out.push(r);
    at += r.length;
  }
  return out;
}

/** The child of `dir` whose ISO9660 identifier (version dropped) is `id`. */
export function child(iso: Buffer, dir: RawRecord, id: string): RawRecord {
  const r = records(iso, dir).find((x) => x.id.replace(/;\d+$/, '').replace(/\.$/, '') === id);
  if (!r) throw new Error(`no record ${id} in directory at LBA ${dir.lba}`);
  return r;
}

/** Walks ISO9660 identifiers from the root of the primary tree: path('BOOT', 'GRUB2'). */
export function path(iso: Buffer, ...ids: string[]): RawRecord {
  let r = rootRecord(iso);
  for (const id of ids) r = child(iso, r, id);
  return r;
}

export function setExtent(iso: Buffer, rec: RawRecord, lba: number, size = rec.size): void {
  setBoth32(iso, rec.at + 2, lba);
  setBoth32(iso, rec.at + 10, size);
}

/** Offset of the first SUSP entry with this signature in a record's System Use area, or -1. */
export function suspEntry(iso: Buffer, rec: RawRecord, sig: string): number {
  let at = rec.suAt;
  const end = rec.at + rec.length;
  while (at + 4 <= end) {
    const len = iso[at + 2] ?? 0;
    if (len < 4) break;
    if (iso.toString('latin1', at, at + 2) === sig) return at;
    at += len;
  }
  return -1;
}

/** A SUSP CE entry pointing at (lba, offset, length). */
export function ceEntry(lba: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(28);
  b.write('CE', 0, 'latin1');
  b[2] = 28;
  b[3] = 1;
  setBoth32(b, 4, lba);
  setBoth32(b, 12, offset);
  setBoth32(b, 20, length);
  return b;
}

/**
 * Rewrites one file's record in its directory as a multi-extent file: one record per part, all
 * but the last flagged 0x80 (ECMA-119 9.1.6), each with its own extent. The directory is repacked
 * into the same sectors; parts are given as (lba, length).
 */
export function splitIntoExtents(iso: Buffer, dir: RawRecord, fileId: string, parts: Array<{ lba: number; length: number }>): void {
  const recs = records(iso, dir);
  const bytes: Buffer[] = [];
  for (const r of recs) {
    const raw = Buffer.from(iso.subarray(r.at, r.at + r.length));
    if (r.id.replace(/;\d+$/, '').replace(/\.$/, '') !== fileId) {
      bytes.push(raw);
      continue;
    }
    parts.forEach((p, i) => {
      const copy = Buffer.from(raw);
      setBoth32(copy, 2, p.lba);
      setBoth32(copy, 10, p.length);
      copy[25] = (copy[25] ?? 0) | (i < parts.length - 1 ? 0x80 : 0);
      bytes.push(copy);
    });
  }
  const start = dir.lba * SECTOR;
  const area = Buffer.alloc(dir.size);
  let at = 0;
  for (const r of bytes) {
    if ((at % SECTOR) + r.length > SECTOR) at = at - (at % SECTOR) + SECTOR;
    if (at + r.length > area.length) throw new Error('split records do not fit the directory');
    r.copy(area, at);
    at += r.length;
  }
  area.copy(iso, start);
}

export interface PathTableEntry {
  id: string;
  lba: number;
  parent: number;
}

/** The L (little-endian) or M (big-endian) path table of the volume descriptor in `descriptorSector`. */
export function pathTable(iso: Buffer, descriptorSector: number, bigEndian: boolean): PathTableEntry[] {
  const vd = descriptorSector * SECTOR;
  const size = iso.readUInt32LE(vd + 132);
  const start = (bigEndian ? iso.readUInt32BE(vd + 148) : iso.readUInt32LE(vd + 140)) * SECTOR;
  const out: PathTableEntry[] = [];
  let at = start;
  while (at < start + size) {
    const len = iso[at] ?? 0;
    if (len === 0) throw new Error(`zero-length path table entry at ${at}`);
    out.push({
      id: iso.toString('latin1', at + 8, at + 8 + len),
      lba: bigEndian ? iso.readUInt32BE(at + 2) : iso.readUInt32LE(at + 2),
      parent: bigEndian ? iso.readUInt16BE(at + 6) : iso.readUInt16LE(at + 6),
    });
    at += 8 + len + (len % 2);
  }
  return out;
}
