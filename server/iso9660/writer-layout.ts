// Directory structure of the image the writer builds: the order of records in each tree (primary
// and Joliet), the records themselves with their Rock Ridge System Use areas, their packing into
// sectors, and the path tables. Sizes depend on names only, so the writer can size first and place later.
import { bothU16, bothU32, ceEntry, nmEntry, pxEntry, recordTime, spEntry, tfEntry, utf16be } from './writer-fields.js';
import type { WDir, WNode } from './writer-names.js';

export const SECTOR = 2048;
const FILE_MODE = 0o100444;
const DIR_MODE = 0o040555;
const MAX_RECORD = 255;

export type Tree = 'iso' | 'joliet';

export interface DirPlace {
  lba: number;
  size: number;
}

/** What the record encoders need to know: options and where each directory and the ER area were placed. */
export interface LayoutState {
  rr: boolean;
  date: Date;
  /** Directory extents per tree. */
  places: Record<Tree, Map<WDir, DirPlace>>;
  rootCe: { lba: number; length: number } | null;
  emptyLba: number;
}

const subdirs = (d: WDir): WDir[] => d.children.filter((c): c is WDir => c.kind === 'dir');

/** Children in the order each tree must record them (ECMA-119 9.3: sorted by identifier). */
export function ordered(dir: WDir, tree: Tree): WNode[] {
  const key = (n: WNode): Buffer => (tree === 'joliet' ? utf16be(n.name) : isoSortKey(n.iso));
  return [...dir.children].sort((a, b) => Buffer.compare(key(a), key(b)));
}

/** Name and extension compared separately, each padded with spaces (ECMA-119 9.3). */
function isoSortKey(id: string): Buffer {
  const [nameExt = '', version = ''] = id.split(';');
  const dot = nameExt.indexOf('.');
  const name = dot >= 0 ? nameExt.slice(0, dot) : nameExt;
  const ext = dot >= 0 ? nameExt.slice(dot + 1) : '';
  return Buffer.from(`${name.padEnd(32, ' ')}${ext.padEnd(32, ' ')}${version}`, 'latin1');
}

/** Directories breadth first, siblings in record order: the path table order (ECMA-119 9.4). */
export function dirsInOrder(root: WDir, tree: Tree): WDir[] {
  const out: WDir[] = [root];
  for (let i = 0; i < out.length; i++) {
    const d = out[i];
    if (d) for (const c of ordered(d, tree)) if (c.kind === 'dir') out.push(c);
  }
  return out;
}

function identifier(n: WNode, tree: Tree): Buffer {
  return tree === 'joliet' ? utf16be(n.name) : Buffer.from(n.iso, 'latin1');
}

/** System Use area of a record in the primary tree when Rock Ridge is on. */
function rockRidge(ctx: LayoutState, node: WNode, kind: 'self' | 'parent' | 'child', isRootSelf: boolean): Buffer {
  const nlink = node.kind === 'dir' ? 2 + subdirs(node).length : 1;
  const parts = [pxEntry(node.kind === 'dir' ? DIR_MODE : FILE_MODE, nlink), tfEntry(ctx.date)];
  if (isRootSelf) {
    parts.unshift(spEntry());
    // The ER text is too long for a record; it lives in a continuation area.
    if (ctx.rootCe) parts.push(ceEntry(ctx.rootCe.lba, 0, ctx.rootCe.length));
    else parts.push(ceEntry(0, 0, 0));
  }
  if (kind === 'child') parts.push(nmEntry(Buffer.from(node.name, 'utf8')));
  return Buffer.concat(parts);
}

export function dirRecord(id: Buffer, lba: number, size: number, isDir: boolean, date: Date, systemUse: Buffer): Buffer {
  const pad = id.length % 2 === 0 ? 1 : 0;
  const len = 33 + id.length + pad + systemUse.length;
  if (len > MAX_RECORD) throw new RangeError(`name ${JSON.stringify(id.toString('latin1'))} is too long for one directory record`);
  const b = Buffer.alloc(len);
  b[0] = len;
  bothU32(lba).copy(b, 2);
  bothU32(size).copy(b, 10);
  recordTime(date).copy(b, 18);
  b[25] = isDir ? 2 : 0;
  bothU16(1).copy(b, 28);
  b[32] = id.length;
  id.copy(b, 33);
  systemUse.copy(b, 33 + id.length + pad);
  return b;
}

/** Records of one directory: '.', '..', then the children. */
export function records(ctx: LayoutState, dir: WDir, tree: Tree): Buffer[] {
  const place = (d: WDir): DirPlace => ctx.places[tree].get(d) ?? { lba: 0, size: 0 };
  const withRr = ctx.rr && tree === 'iso';
  const parent = dir.parent ?? dir;
  const su = (n: WNode, kind: 'self' | 'parent' | 'child'): Buffer =>
    withRr ? rockRidge(ctx, n, kind, kind === 'self' && dir.parent === null) : Buffer.alloc(0);
  const out = [
    dirRecord(Buffer.from([0]), place(dir).lba, place(dir).size, true, ctx.date, su(dir, 'self')),
    dirRecord(Buffer.from([1]), place(parent).lba, place(parent).size, true, ctx.date, su(parent, 'parent')),
  ];
  for (const c of ordered(dir, tree)) {
    const lba = c.kind === 'dir' ? place(c).lba : c.data.length === 0 ? ctx.emptyLba : c.lba;
    const size = c.kind === 'dir' ? place(c).size : c.data.length;
    out.push(dirRecord(identifier(c, tree), lba, size, c.kind === 'dir', ctx.date, su(c, 'child')));
  }
  return out;
}

/** Records packed into sectors; a record never straddles a sector boundary (ECMA-119 6.8.1.1). */
export function pack(recs: Buffer[]): Buffer {
  const chunks: Buffer[] = [];
  let used = 0;
  for (const r of recs) {
    if (used + r.length > SECTOR) {
      chunks.push(Buffer.alloc(SECTOR - used));
      used = 0;
    }
    chunks.push(r);
    used += r.length;
  }
  if (used > 0) chunks.push(Buffer.alloc(SECTOR - used));
  return Buffer.concat(chunks);
}

/** Path table (ECMA-119 9.4) for the directories in order, L (little-endian) or M (big-endian). */
export function pathTable(dirs: WDir[], ctx: LayoutState, tree: Tree, bigEndian: boolean): Buffer {
  const number = new Map(dirs.map((d, i) => [d, i + 1]));
  const parts: Buffer[] = [];
  for (const d of dirs) {
    const id = d.parent === null ? Buffer.from([0]) : identifier(d, tree);
    const b = Buffer.alloc(8 + id.length + (id.length % 2));
    b[0] = id.length;
    const lba = ctx.places[tree].get(d)?.lba ?? 0;
    const parentNo = number.get(d.parent ?? d) ?? 1;
    if (bigEndian) {
      b.writeUInt32BE(lba, 2);
      b.writeUInt16BE(parentNo, 6);
    } else {
      b.writeUInt32LE(lba, 2);
      b.writeUInt16LE(parentNo, 6);
    }
    id.copy(b, 8);
    parts.push(b);
  }
  return Buffer.concat(parts);
}
