// Small ISO9660 writer for generated media such as the NoCloud 'cidata' seed: a primary tree with
// level 2 identifiers, optional Rock Ridge (exact POSIX names in NM) and optional Joliet (exact
// names in UCS-2), so Linux, cloud-init and xorriso read the names back unchanged. Output depends
// only on the input (timestamps come from opts.date, default the epoch), so it can be golden-tested.
import { terminator, volumeDescriptor } from './writer-descriptors.js';
import { erEntry } from './writer-fields.js';
import { dirRecord, dirsInOrder, ordered, pack, pathTable, records, SECTOR, type LayoutState, type Tree } from './writer-layout.js';
import { buildTree, type WDir, type WFile } from './writer-names.js';

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

const sectorsFor = (bytes: number): number => Math.ceil(bytes / SECTOR);

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
  const ctx: LayoutState = { rr, date, places: { iso: new Map(), joliet: new Map() }, rootCe: null, emptyLba: 0 };
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
