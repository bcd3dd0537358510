// Walks one directory tree (primary with Rock Ridge, Joliet, or plain primary) into an in-memory
// index. Every extent is checked against the volume, every directory extent may be entered once
// (a second visit is a cycle or a cross-link), and depth, record count and directory size are
// capped, so the work is bounded by the limits whatever the image says.
import { corrupt } from './errors.js';
import {
  FLAG_ASSOCIATED,
  FLAG_DIRECTORY,
  FLAG_MULTI_EXTENT,
  isSelfOrParent,
  parseRecord,
  recordsIn,
  type DirRecord,
} from './directory-record.js';
import { jolietName, stripVersion } from './joliet.js';
import { interpretRockRidge, type RockRidgeInfo } from './rock-ridge.js';
import { collectSusp, type SuspLimits } from './susp.js';
import { readExact } from './source.js';
import type { IsoEntry, IsoExtent } from './types.js';

export type NameSource = 'rock-ridge' | 'joliet' | 'iso9660';

export interface TreeOptions {
  susp: SuspLimits;
  names: NameSource;
  /** SP skip count: bytes to ignore at the start of each System Use area (Rock Ridge only). */
  suspSkip: number;
  maxDepth: number;
  maxEntries: number;
  maxDirectoryBytes: number;
  warnings: string[];
}

export interface IsoTree {
  root: IsoEntry;
  byPath: Map<string, IsoEntry>;
  children: Map<string, IsoEntry[]>;
  /** Byte offsets in the image of each file's directory records (several for a multi-extent file). */
  recordOffsets: Map<string, number[]>;
}

interface PendingDir {
  entry: IsoEntry;
  depth: number;
  /** Byte offset of the directory data: the identity used for cycle detection. */
  key: number;
  ancestors: Set<number>;
}

const childPath = (parent: string, name: string): string => (parent === '/' ? `/${name}` : `${parent}/${name}`);

function checkName(name: string, where: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw corrupt(`${where}: unusable file name ${JSON.stringify(name)}`);
  }
}

export class TreeBuilder {
  private readonly byPath = new Map<string, IsoEntry>();
  private readonly children = new Map<string, IsoEntry[]>();
  private readonly recordOffsets = new Map<string, number[]>();
  /** Directory data offset -> path of the directory that owns it. */
  private readonly owners = new Map<number, string>();
  private records = 0;

  constructor(private readonly opts: TreeOptions) {}

  private get blockSize(): number {
    return this.opts.susp.blockSize;
  }

  /** Byte range of a record's data, checked to lie inside the volume. */
  private extentOf(rec: DirRecord, where: string): IsoExtent {
    if (rec.fileUnitSize !== 0 || rec.interleaveGap !== 0) throw corrupt(`${where}: interleaved files are not supported`);
    const offset = (rec.extentLba + rec.earLength) * this.blockSize;
    return this.checked(offset, rec.dataLength, where);
  }

  private checked(offset: number, length: number, where: string): IsoExtent {
    const vol = this.opts.susp.volumeBytes;
    if (length > 0 && offset + length > vol) {
      throw corrupt(`${where}: extent at byte ${offset} (${length} bytes) lies past the end of the volume (${vol} bytes)`);
    }
    return { offset, length };
  }

  private async readDir(ext: IsoExtent, where: string): Promise<Buffer> {
    if (ext.length > this.opts.maxDirectoryBytes) {
      throw corrupt(`${where}: directory is ${ext.length} bytes, over the ${this.opts.maxDirectoryBytes}-byte limit`);
    }
    return readExact(this.opts.susp.src, ext.offset, ext.length, `${where}: directory`);
  }

  private async rockRidge(rec: DirRecord, where: string): Promise<RockRidgeInfo | null> {
    if (this.opts.names !== 'rock-ridge') return null;
    const area = rec.systemUse.subarray(Math.min(this.opts.suspSkip, rec.systemUse.length));
    return interpretRockRidge(await collectSusp(area, this.opts.susp, where));
  }

  private nameOf(rec: DirRecord, rr: RockRidgeInfo | null): string {
    if (rr?.name !== undefined) return rr.name;
    if (this.opts.names === 'joliet') return jolietName(rec.identifier);
    return stripVersion(rec.identifier.toString('latin1'));
  }

  /** The directory a Rock Ridge CL entry points at: its size comes from its own '.' record. */
  private async relocatedDir(lba: number, where: string): Promise<IsoExtent> {
    const offset = lba * this.blockSize;
    this.checked(offset, this.blockSize, `${where} (CL)`);
    const first = await readExact(this.opts.susp.src, offset, this.blockSize, `${where}: relocated directory`);
    const dot = parseRecord(first, 0, first.length, `${where}: relocated directory`);
    if (!isSelfOrParent(dot) || (dot.flags & FLAG_DIRECTORY) === 0) throw corrupt(`${where}: CL points at block ${lba}, which does not start a directory`);
    return this.checked(offset, dot.dataLength, `${where} (CL)`);
  }

  async build(rootRec: DirRecord, rootRr: RockRidgeInfo | null): Promise<IsoTree> {
    const rootExt = this.extentOf(rootRec, 'root directory');
    const root: IsoEntry = {
      path: '/',
      name: '',
      isDirectory: true,
      size: rootExt.length,
      extents: rootExt.length > 0 ? [rootExt] : [],
      mtime: rootRr?.mtime ?? rootRec.recorded,
    };
    if (rootRr?.mode !== undefined) root.mode = rootRr.mode;
    this.byPath.set('/', root);
    this.owners.set(rootExt.offset, '/');
    // Explicit stack instead of recursion: depth is capped anyway, but this keeps stack use flat.
    const stack: PendingDir[] = [{ entry: root, depth: 0, key: rootExt.offset, ancestors: new Set([rootExt.offset]) }];
    while (stack.length > 0) {
      const dir = stack.pop();
      if (!dir) break;
      const subdirs = await this.readChildren(dir);
      for (let i = subdirs.length - 1; i >= 0; i--) {
        const sub = subdirs[i];
        if (sub) stack.push(sub);
      }
    }
    return { root, byPath: this.byPath, children: this.children, recordOffsets: this.recordOffsets };
  }

  private async readChildren(dir: PendingDir): Promise<PendingDir[]> {
    const where = dir.entry.path;
    const ext = dir.entry.extents[0];
    const data = ext ? await this.readDir(ext, where) : Buffer.alloc(0);
    const list: IsoEntry[] = [];
    const names = new Set<string>();
    const subdirs: PendingDir[] = [];
    // Records of a multi-extent file, waiting for the record without the multi-extent flag.
    let pending: { id: Buffer; first: DirRecord; extents: IsoExtent[]; at: number[] } | null = null;
    const base = ext?.offset ?? 0;

    for (const rec of recordsIn(data, this.blockSize, where)) {
      if (++this.records > this.opts.maxEntries) throw corrupt(`more than ${this.opts.maxEntries} directory records`);
      if (isSelfOrParent(rec)) continue;
      const recWhere = `${where} record at offset ${rec.at}`;
      if (pending && !pending.id.equals(rec.identifier)) throw corrupt(`${recWhere}: multi-extent file is not continued by a record of the same name`);
      const isDir = (rec.flags & FLAG_DIRECTORY) !== 0;
      if (rec.flags & FLAG_MULTI_EXTENT) {
        if (isDir) throw corrupt(`${recWhere}: directory flagged multi-extent`);
        const part = this.extentOf(rec, recWhere);
        if (pending) {
          pending.extents.push(part);
          pending.at.push(base + rec.at);
        } else pending = { id: rec.identifier, first: rec, extents: [part], at: [base + rec.at] };
        continue;
      }
      const first = pending?.first ?? rec;
      const extents = pending?.extents ?? [];
      const recordAt = [...(pending?.at ?? []), base + rec.at];
      pending = null;
      if (rec.flags & FLAG_ASSOCIATED) continue; // resource forks and the like: hidden, as Linux does
      const rr = await this.rockRidge(first, recWhere);
      if (rr?.relocated) continue; // shown where its CL placeholder is
      const name = this.nameOf(first, rr);
      checkName(name, recWhere);
      const path = childPath(dir.entry.path, name);

      let entry: IsoEntry;
      if (isDir || rr?.childLink !== undefined) {
        const dext = rr?.childLink !== undefined ? await this.relocatedDir(rr.childLink, path) : this.extentOf(rec, path);
        // An empty extent holds no records (not even '.'): nothing to read, and its block number means nothing.
        entry = { path, name, isDirectory: true, size: dext.length, extents: dext.length > 0 ? [dext] : [], mtime: rr?.mtime ?? first.recorded };
      } else {
        extents.push(this.extentOf(rec, path));
        const parts = extents.filter((e) => e.length > 0);
        const size = parts.reduce((n, e) => n + e.length, 0);
        entry = { path, name, isDirectory: false, size, extents: parts, mtime: rr?.mtime ?? first.recorded };
      }
      if (rr?.mode !== undefined) entry.mode = rr.mode;
      if (rr?.symlinkTarget !== undefined) entry.symlinkTarget = rr.symlinkTarget;

      if (names.has(name)) {
        this.opts.warnings.push(`${path}: duplicate name, later record at offset ${rec.at} ignored`);
        continue;
      }
      names.add(name);
      list.push(entry);
      this.byPath.set(path, entry);
      if (!entry.isDirectory) this.recordOffsets.set(path, recordAt);
      if (entry.isDirectory && entry.size > 0) subdirs.push(this.enter(dir, entry));
      else if (entry.isDirectory) this.children.set(path, []);
    }
    if (pending) throw corrupt(`${where}: directory ends inside a multi-extent file`);
    this.children.set(dir.entry.path, list);
    return subdirs;
  }

  private enter(parent: PendingDir, entry: IsoEntry): PendingDir {
    const key = entry.extents[0]?.offset ?? 0;
    if (parent.ancestors.has(key)) throw corrupt(`${entry.path}: directory cycle, its extent (byte ${key}) is that of ${this.owners.get(key) ?? 'an ancestor'}`);
    const owner = this.owners.get(key);
    if (owner !== undefined) throw corrupt(`${entry.path}: directory extent (byte ${key}) is already the directory ${owner}`);
    this.owners.set(key, entry.path);
    const depth = parent.depth + 1;
    if (depth > this.opts.maxDepth) throw corrupt(`${entry.path}: deeper than ${this.opts.maxDepth} directory levels`);
    const ancestors = new Set(parent.ancestors);
    ancestors.add(key);
    return { entry, depth, key, ancestors };
  }
}
