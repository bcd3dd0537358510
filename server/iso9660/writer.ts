// Small ISO9660 writer for generated media such as the NoCloud 'cidata' seed: a primary tree with
// level 2 identifiers, optional Rock Ridge (exact POSIX names in NM) and optional Joliet (exact
// names in UCS-2), so Linux, cloud-init and xorriso read the names back unchanged. Output depends
// only on the input (timestamps come from opts.date, default the epoch), so it can be golden-tested.
import {
  bothU16,
  bothU32,
  ceEntry,
  erEntry,
  nmEntry,
  pxEntry,
  recordTime,
  spaced,
  spEntry,
  tfEntry,
  ucs2Spaced,
  utf16be,
  volumeTime,
} from './writer-fields.js';
import { buildTree, type WDir, type WFile, type WNode } from './writer-names.js';

export interface BuildIsoFile {
  /** '/'-separated; leading '/' optional; directories are implied. */
  path: string;
  data: Buffer;
}

export interface BuildIsoOptions {
  /** Up to 32 printable ASCII characters, kept as given (cloud-init wants 'cidata'). */
  volumeId: string;
  /** Joliet tree with exact names (default true). */
  joliet?: boolean;
  /** Rock Ridge NM/PX/TF with exact names (default true). */
  rockRidge?: boolean;
  /** Every timestamp in the image (default 1970-01-01T00:00:00Z). */
  date?: Date;
  applicationId?: string;
}

const SECTOR = 2048;
const FILE_MODE = 0o100444;
const DIR_MODE = 0o040555;
const MAX_RECORD = 255;

type Tree = 'iso' | 'joliet';

interface DirPlace {
  lba: number;
  size: number;
}

interface Ctx {
  rr: boolean;
  date: Date;
  /** Directory extents per tree. */
  places: Record<Tree, Map<WDir, DirPlace>>;
  rootCe: { lba: number; length: number } | null;
  emptyLba: number;
}

const subdirs = (d: WDir): WDir[] => d.children.filter((c): c is WDir => c.kind === 'dir');

/** Children in the order each tree must record them (ECMA-119 9.3: sorted by identifier). */
function ordered(dir: WDir, tree: Tree): WNode[] {
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
function dirsInOrder(root: WDir, tree: Tree): WDir[] {
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
function rockRidge(ctx: Ctx, node: WNode, kind: 'self' | 'parent' | 'child', isRootSelf: boolean): Buffer {
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

function dirRecord(id: Buffer, lba: number, size: number, isDir: boolean, date: Date, systemUse: Buffer): Buffer {
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
function records(ctx: Ctx, dir: WDir, tree: Tree): Buffer[] {
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
function pack(recs: Buffer[]): Buffer {
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
function pathTable(dirs: WDir[], ctx: Ctx, tree: Tree, bigEndian: boolean): Buffer {
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

const sectorsFor = (bytes: number): number => Math.ceil(bytes / SECTOR);

interface VolumeFields {
  volumeId: string;
  applicationId: string;
  date: Date;
  volumeSectors: number;
  pathTableSize: number;
  pathL: number;
  pathM: number;
  root: Buffer;
}

function volumeDescriptor(kind: 'primary' | 'joliet', v: VolumeFields): Buffer {
  const b = Buffer.alloc(SECTOR);
  const text = kind === 'joliet' ? ucs2Spaced : spaced;
  b[0] = kind === 'joliet' ? 2 : 1;
  b.write('CD001', 1, 'latin1');
  b[6] = 1;
  text('', 32).copy(b, 8); // system id
  text(v.volumeId, 32).copy(b, 40);
  bothU32(v.volumeSectors).copy(b, 80);
  if (kind === 'joliet') b.write('%/E', 88, 'latin1'); // UCS-2 level 3
  bothU16(1).copy(b, 120); // volume set size
  bothU16(1).copy(b, 124); // volume sequence number
  bothU16(SECTOR).copy(b, 128);
  bothU32(v.pathTableSize).copy(b, 132);
  b.writeUInt32LE(v.pathL, 140);
  b.writeUInt32BE(v.pathM, 148);
  v.root.copy(b, 156);
  text('', 128).copy(b, 190); // volume set
  text('', 128).copy(b, 318); // publisher
  text('', 128).copy(b, 446); // data preparer
  text(v.applicationId, 128).copy(b, 574);
  text('', 37).copy(b, 702);
  text('', 37).copy(b, 739);
  text('', 37).copy(b, 776);
  volumeTime(v.date).copy(b, 813);
  volumeTime(v.date).copy(b, 830);
  volumeTime(null).copy(b, 847);
  volumeTime(null).copy(b, 864);
  b[881] = 1; // file structure version
  return b;
}

function terminator(): Buffer {
  const b = Buffer.alloc(SECTOR);
  b[0] = 255;
  b.write('CD001', 1, 'latin1');
  b[6] = 1;
  return b;
}

function checkOptions(opts: BuildIsoOptions): void {
  const v = opts.volumeId;
  if (typeof v !== 'string' || v.length < 1 || v.length > 32 || !/^[\x20-\x7e]+$/.test(v)) {
    throw new RangeError('volumeId must be 1 to 32 printable ASCII characters');
  }
  if (opts.date !== undefined && (!(opts.date instanceof Date) || Number.isNaN(opts.date.getTime()) || opts.date.getUTCFullYear() < 1900 || opts.date.getUTCFullYear() > 2155)) {
    throw new RangeError('date must be a valid Date between 1900 and 2155');
  }
  const app = opts.applicationId ?? '';
  if (app.length > 128 || !/^[\x20-\x7e]*$/.test(app)) throw new RangeError('applicationId must be at most 128 printable ASCII characters');
}

/** Builds the image in memory. Throws RangeError for input a caller must fix (bad names, duplicates). */
export function buildIso(files: ReadonlyArray<BuildIsoFile>, opts: BuildIsoOptions): Buffer {
  checkOptions(opts);
  const joliet = opts.joliet ?? true;
  const rr = opts.rockRidge ?? true;
  const date = opts.date ?? new Date(0);
  const root = buildTree(files, joliet);
  const ctx: Ctx = { rr, date, places: { iso: new Map(), joliet: new Map() }, rootCe: null, emptyLba: 0 };
  const isoDirs = dirsInOrder(root, 'iso');
  const jolietDirs = joliet ? dirsInOrder(root, 'joliet') : [];

  // Pass 1: sizes (record sizes depend on names only, never on block numbers).
  const dirSize = (d: WDir, tree: Tree): number => pack(records(ctx, d, tree)).length;
  const ptSize = (dirs: WDir[], tree: Tree): number => pathTable(dirs, ctx, tree, false).length;
  let lba = 16 + 1 + (joliet ? 1 : 0) + 1; // after the system area, PVD, SVD and terminator
  const isoPtSize = ptSize(isoDirs, 'iso');
  const jPtSize = joliet ? ptSize(jolietDirs, 'joliet') : 0;
  const isoPtL = lba;
  lba += sectorsFor(isoPtSize);
  const isoPtM = lba;
  lba += sectorsFor(isoPtSize);
  const jPtL = lba;
  lba += sectorsFor(jPtSize);
  const jPtM = lba;
  lba += sectorsFor(jPtSize);
  for (const d of isoDirs) {
    const size = dirSize(d, 'iso');
    ctx.places.iso.set(d, { lba, size });
    lba += sectorsFor(size);
  }
  const er = erEntry();
  if (rr) {
    ctx.rootCe = { lba, length: er.length };
    lba += 1;
  }
  for (const d of jolietDirs) {
    const size = dirSize(d, 'joliet');
    ctx.places.joliet.set(d, { lba, size });
    lba += sectorsFor(size);
  }
  const dataFiles: WFile[] = [];
  const collect = (d: WDir): void => {
    for (const c of ordered(d, 'iso')) {
      if (c.kind === 'dir') collect(c);
      else if (c.data.length > 0) dataFiles.push(c);
    }
  };
  collect(root);
  // Empty files share one in-volume block, as xorriso does; add a zero block if nothing else is there.
  ctx.emptyLba = lba;
  if (dataFiles.length === 0) lba += 1;
  for (const f of dataFiles) {
    f.lba = lba;
    lba += sectorsFor(f.data.length);
  }
  const total = lba;

  // Pass 2: emit.
  const out = Buffer.alloc(total * SECTOR);
  const put = (at: number, data: Buffer): void => {
    data.copy(out, at * SECTOR);
  };
  const rootRecord = (tree: Tree): Buffer => {
    const p = ctx.places[tree].get(root) ?? { lba: 0, size: 0 };
    return dirRecord(Buffer.from([0]), p.lba, p.size, true, date, Buffer.alloc(0));
  };
  const fields = { applicationId: opts.applicationId ?? '', date, volumeSectors: total };
  put(16, volumeDescriptor('primary', { ...fields, volumeId: opts.volumeId, pathTableSize: isoPtSize, pathL: isoPtL, pathM: isoPtM, root: rootRecord('iso') }));
  if (joliet) {
    put(17, volumeDescriptor('joliet', { ...fields, volumeId: opts.volumeId.slice(0, 16), pathTableSize: jPtSize, pathL: jPtL, pathM: jPtM, root: rootRecord('joliet') }));
  }
  put(joliet ? 18 : 17, terminator());
  put(isoPtL, pathTable(isoDirs, ctx, 'iso', false));
  put(isoPtM, pathTable(isoDirs, ctx, 'iso', true));
  if (joliet) {
    put(jPtL, pathTable(jolietDirs, ctx, 'joliet', false));
    put(jPtM, pathTable(jolietDirs, ctx, 'joliet', true));
  }
  for (const d of isoDirs) put(ctx.places.iso.get(d)?.lba ?? 0, pack(records(ctx, d, 'iso')));
  if (ctx.rootCe) put(ctx.rootCe.lba, er);
  for (const d of jolietDirs) put(ctx.places.joliet.get(d)?.lba ?? 0, pack(records(ctx, d, 'joliet')));
  for (const f of dataFiles) put(f.lba, f.data);
  return out;
}
