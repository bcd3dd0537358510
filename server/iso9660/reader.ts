// ISO9660 reader: openIso() checks the descriptors and walks the whole directory tree once, with
// limits, so that every structural problem (including truncation: the file must hold the volume the
// PVD describes) is reported at open as a result value. After a successful open, list/stat/walk are
// in-memory lookups and only file data is read, with positional reads through a ByteSource.
import { Readable } from 'node:stream';
import { readDescriptors, type DescriptorSet } from './descriptors.js';
import { parseRecord } from './directory-record.js';
import { readBootCatalog } from './el-torito.js';
import { failureOf, IsoStreamError, isSystemError } from './errors.js';
import { extentStream } from './extent-stream.js';
import { announcesRockRidge, interpretRockRidge, type RockRidgeInfo } from './rock-ridge.js';
import { bufferSource, fileSource, type ByteSource } from './source.js';
import { collectSusp, suspSkip, type SuspLimits } from './susp.js';
import { TreeBuilder, type IsoTree, type NameSource } from './tree.js';
import type {
  ElToritoResult,
  IsoEntry,
  IsoFileResult,
  IsoImage,
  IsoOpenOptions,
  IsoReadResult,
  IsoStreamOptions,
} from './types.js';

export type * from './types.js';
export type { ByteSource } from './source.js';
export { IsoStreamError } from './errors.js';

const DEFAULTS = {
  maxDepth: 64,
  maxEntries: 1_000_000,
  maxDirectoryBytes: 32 * 1024 * 1024,
  maxDescriptors: 64,
};
const MAX_CONTINUATIONS = 32;
const MAX_CONTINUATION_BYTES = 64 * 1024;
const DEFAULT_CHUNK = 1024 * 1024;

/** Opens an image file. Never throws for a bad or missing file: see IsoReadResult. */
export async function openIso(path: string, opts: IsoOpenOptions = {}): Promise<IsoReadResult> {
  let src: ByteSource;
  try {
    src = await fileSource(path);
  } catch (e) {
    return { ok: false, ...failureOf(e) };
  }
  return openIsoSource(src, opts);
}

/** Opens an image held in memory (e.g. one just built by buildIso). */
export function openIsoBuffer(data: Buffer, opts: IsoOpenOptions = {}): Promise<IsoReadResult> {
  return openIsoSource(bufferSource(data), opts);
}

/** Opens an image from any ByteSource; the source is closed again when the open fails. */
export async function openIsoSource(src: ByteSource, opts: IsoOpenOptions = {}): Promise<IsoReadResult> {
  try {
    return { ok: true, iso: await load(src, { ...DEFAULTS, ...opts }) };
  } catch (e) {
    await src.close().catch(() => undefined);
    return { ok: false, ...failureOf(e) };
  }
}

/** Normalises '/a//b/' and 'a/b' to '/a/b'; null for '..' (nothing here resolves upwards). */
function normalizePath(p: string): string | null {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return null;
  return `/${parts.join('/')}`;
}

/** The directory trees of a volume: the one whose names the reader shows, and the others it carries. */
export interface VolumeTrees {
  desc: DescriptorSet;
  names: NameSource;
  hasRockRidge: boolean;
  named: IsoTree;
  /** The Joliet tree beside a Rock Ridge/ISO9660 one, or the plain primary tree beside Joliet. */
  others: IsoTree[];
  warnings: string[];
}

/** Reads descriptors and trees; throws IsoFault (see failureOf) for a bad image. */
export async function readVolumeTrees(src: ByteSource, opts: IsoOpenOptions = {}, all = true): Promise<VolumeTrees> {
  const o = { ...DEFAULTS, ...opts };
  const desc = await readDescriptors(src, o.maxDescriptors);
  const blockSize = desc.primary.logicalBlockSize;
  const susp: SuspLimits = {
    src,
    blockSize,
    volumeBytes: desc.volumeBytes,
    maxContinuations: MAX_CONTINUATIONS,
    maxContinuationBytes: MAX_CONTINUATION_BYTES,
  };
  const rr = await detectRockRidge(desc, susp);
  const names: NameSource = rr ? 'rock-ridge' : desc.joliet ? 'joliet' : 'iso9660';
  const warnings: string[] = [];
  const tree = (n: NameSource) =>
    new TreeBuilder({
      susp,
      names: n,
      suspSkip: n === 'rock-ridge' ? (rr?.skip ?? 0) : 0,
      maxDepth: o.maxDepth,
      maxEntries: o.maxEntries,
      maxDirectoryBytes: o.maxDirectoryBytes,
      warnings,
    });
  const rootRec = names === 'joliet' && desc.joliet ? desc.joliet.root : desc.primary.root;
  const named = await tree(names).build(rootRec, rr?.root ?? null);
  const others: IsoTree[] = [];
  if (all && names !== 'joliet' && desc.joliet) others.push(await tree('joliet').build(desc.joliet.root, null));
  if (all && names === 'joliet') others.push(await tree('iso9660').build(desc.primary.root, null));
  return { desc, names, hasRockRidge: rr !== null, named, others, warnings };
}

async function load(src: ByteSource, o: Required<IsoOpenOptions>): Promise<OpenIso> {
  const v = await readVolumeTrees(src, o, false);
  return new OpenIso(src, v.desc, v.named, v.names, v.hasRockRidge, v.warnings);
}

/** Rock Ridge is in use when the root's '.' record starts with SP and announces RRIP. */
async function detectRockRidge(desc: DescriptorSet, susp: SuspLimits): Promise<{ skip: number; root: RockRidgeInfo } | null> {
  const root = desc.primary.root;
  const offset = (root.extentLba + root.earLength) * susp.blockSize;
  const len = Math.min(root.dataLength, 255);
  if (len < 34 || offset + len > desc.volumeBytes) return null; // the tree walk reports the bad extent
  const head = await susp.src.read(offset, len);
  if (head.length < len || (head[0] ?? 0) > len) return null;
  const dot = parseRecord(head, 0, head.length, 'root directory');
  const skip = suspSkip(dot.systemUse);
  if (skip === null) return null;
  const entries = await collectSusp(dot.systemUse, susp, "root directory '.'");
  if (!announcesRockRidge(entries)) return null;
  return { skip, root: interpretRockRidge(entries) };
}

class OpenIso implements IsoImage {
  readonly volumeId: string;
  readonly systemId: string;
  readonly volumeSetId: string;
  readonly publisherId: string;
  readonly applicationId: string;
  readonly creationDate: Date | null;
  readonly logicalBlockSize: number;
  readonly volumeSpaceSize: number;
  readonly sizeBytes: number;
  readonly hasJoliet: boolean;
  private closed = false;
  private catalog: Promise<ElToritoResult> | null = null;

  constructor(
    private readonly src: ByteSource,
    private readonly desc: DescriptorSet,
    private readonly tree: IsoTree,
    readonly nameSource: NameSource,
    readonly hasRockRidge: boolean,
    readonly warnings: string[],
  ) {
    const p = desc.primary;
    this.volumeId = p.volumeId;
    this.systemId = p.systemId;
    this.volumeSetId = p.volumeSetId;
    this.publisherId = p.publisherId;
    this.applicationId = p.applicationId;
    this.creationDate = p.creationDate;
    this.logicalBlockSize = p.logicalBlockSize;
    this.volumeSpaceSize = p.volumeSpaceSize;
    this.sizeBytes = src.size;
    this.hasJoliet = desc.joliet !== null;
  }

  private lookup(path: string): IsoEntry | null {
    const norm = normalizePath(path);
    return norm === null ? null : (this.tree.byPath.get(norm) ?? null);
  }

  async list(dirPath: string): Promise<IsoEntry[] | null> {
    const dir = this.lookup(dirPath);
    if (!dir?.isDirectory) return null;
    return [...(this.tree.children.get(dir.path) ?? [])];
  }

  async stat(path: string): Promise<IsoEntry | null> {
    return this.lookup(path);
  }

  async *walk(): AsyncIterable<IsoEntry> {
    const stack = [...(this.tree.children.get('/') ?? [])].reverse();
    for (let e = stack.pop(); e; e = stack.pop()) {
      yield e;
      if (!e.isDirectory) continue;
      const kids = this.tree.children.get(e.path) ?? [];
      for (let i = kids.length - 1; i >= 0; i--) {
        const k = kids[i];
        if (k) stack.push(k);
      }
    }
  }

  /** Null when every extent lies inside the volume; guards against entries not made by this image. */
  private badExtent(entry: IsoEntry): string | null {
    for (const x of entry.extents) {
      if (!Number.isSafeInteger(x.offset) || !Number.isSafeInteger(x.length) || x.offset < 0 || x.length < 0 || x.offset + x.length > this.desc.volumeBytes) {
        return `${entry.path}: extent at byte ${x.offset} (${x.length} bytes) is outside the volume`;
      }
    }
    return null;
  }

  async readFile(target: string | IsoEntry, opts: { maxBytes: number }): Promise<IsoFileResult> {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${opts.maxBytes}`);
    if (this.closed) return { ok: false, code: 'RB_ISO_CLOSED', reason: 'the image is closed' };
    const entry = typeof target === 'string' ? this.lookup(target) : target;
    if (!entry) return { ok: false, code: 'RB_ISO_NOT_FOUND', reason: `${String(target)}: no such file in the image` };
    if (entry.isDirectory || entry.symlinkTarget !== undefined) {
      return { ok: false, code: 'RB_ISO_NOT_A_FILE', reason: `${entry.path} is a ${entry.isDirectory ? 'directory' : 'symbolic link'}` };
    }
    if (entry.size > opts.maxBytes) return { ok: false, code: 'RB_ISO_TOO_LARGE', reason: `${entry.path} is ${entry.size} bytes, over the ${opts.maxBytes}-byte limit` };
    const bad = this.badExtent(entry);
    if (bad) return { ok: false, code: 'RB_ISO_CORRUPT', reason: bad };
    const parts: Buffer[] = [];
    try {
      for (const x of entry.extents) {
        const buf = await this.src.read(x.offset, x.length);
        if (buf.length < x.length) return { ok: false, code: 'RB_ISO_TRUNCATED', reason: `${entry.path}: image ends at byte ${x.offset + buf.length}, inside the file's data` };
        parts.push(buf);
      }
    } catch (e) {
      if (isSystemError(e)) return { ok: false, code: 'RB_ISO_IO', reason: e.message };
      throw e;
    }
    return { ok: true, data: Buffer.concat(parts) };
  }

  createReadStream(entry: IsoEntry, opts: IsoStreamOptions = {}): Readable {
    const start = opts.start ?? 0;
    const end = Math.min(opts.end ?? entry.size - 1, entry.size - 1);
    const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
    if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`start must be a non-negative integer, got ${start}`);
    if (!Number.isSafeInteger(end) || end < -1) throw new RangeError(`end must be a non-negative integer, got ${opts.end}`);
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
    const failed = (code: string, reason: string): Readable =>
      new Readable({
        read(): void {
          this.destroy(new IsoStreamError(code, reason));
        },
      });
    if (entry.isDirectory || entry.symlinkTarget !== undefined) return failed('RB_ISO_NOT_A_FILE', `${entry.path} is not a regular file`);
    const bad = this.badExtent(entry);
    if (bad) return failed('RB_ISO_CORRUPT', bad);
    if (this.closed) return failed('RB_ISO_CLOSED', 'the image is closed');
    return extentStream({
      src: this.src,
      extents: entry.extents,
      start,
      endExclusive: Math.max(start, end + 1),
      chunkSize,
      isClosed: () => this.closed,
    });
  }

  elTorito(): Promise<ElToritoResult> {
    this.catalog ??= this.loadCatalog();
    return this.catalog;
  }

  private async loadCatalog(): Promise<ElToritoResult> {
    const lba = this.desc.bootCatalogLba;
    if (lba === null) return { ok: true, catalog: null };
    if (this.closed) return { ok: false, code: 'RB_ISO_CLOSED', reason: 'the image is closed' };
    try {
      return { ok: true, catalog: await readBootCatalog(this.src, lba, this.desc.volumeBytes) };
    } catch (e) {
      const f = failureOf(e);
      return { ok: false, code: f.code === 'RB_ISO_NOT_ISO' ? 'RB_ISO_CORRUPT' : f.code, reason: f.reason };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.src.close();
  }
}
