// Seeded fuzz of the ISO9660 reader: 40,000 mutants of small valid images (our writer's and
// xorriso's: Rock Ridge with CE, symlinks and relocated directories, Joliet, El Torito, a
// multi-extent file), each reproducible from SEED and its index. Every mutant is opened, walked,
// listed, stat'ed, read (bounded) and streamed; the reader must never throw, every refusal must
// carry a known code and a reason, and the bytes read per mutant must stay bounded.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIso, openIsoSource, type IsoImage, type IsoReadResult } from '../../server/iso9660/reader.js';
import { bufferSource, type ByteSource } from '../../server/iso9660/source.js';
import { buildIso } from '../../server/iso9660/writer.js';
import { Prng } from '../support/prng.js';
import * as raw from '../support/iso-raw.js';
import { makeTempDir, mkisofs, removeDir, runOk, seededBytes, writeTree } from '../support/iso-tools.js';

const SEED = 0x150_9660;
const TOTAL = 40_000;
/** Every FILE_EVERY-th mutant goes through a real file and openIso(), the rest through a Buffer. */
const FILE_EVERY = 120;
const LIMITS = { maxEntries: 20_000, maxDepth: 64 };
/** Per-mutant ceilings that prove the work is bounded whatever the image says. */
const MAX_READS = 25_000;
const MAX_BYTES = 48 * 1024 * 1024;

const OPEN_CODES = new Set(['RB_ISO_NOT_ISO', 'RB_ISO_TRUNCATED', 'RB_ISO_CORRUPT', 'RB_ISO_IO']);
const FILE_CODES = new Set(['RB_ISO_NOT_FOUND', 'RB_ISO_NOT_A_FILE', 'RB_ISO_TOO_LARGE', 'RB_ISO_TRUNCATED', 'RB_ISO_CORRUPT']);

interface Seed {
  name: string;
  image: Buffer;
  /** Byte ranges holding structure (descriptors, path tables, directories, SUSP areas, catalog). */
  meta: Array<[number, number]>;
  records: number[];
  susp: number[];
  volumeBlocks: number;
}

/** Offsets of directory records and SUSP entries, found with the independent raw walker. */
function structure(image: Buffer): { records: number[]; susp: number[]; dirs: raw.RawRecord[] } {
  const records: number[] = [];
  const susp: number[] = [];
  const dirs: raw.RawRecord[] = [];
  const seen = new Set<number>();
  const roots = [raw.rootRecord(image)];
  for (let s = 17; s < 20; s++) if (image[s * 2048] === 2) roots.push(raw.rootRecord(image, s));
  const queue = [...roots];
  while (queue.length > 0) {
    const d = queue.shift();
    if (!d || seen.has(d.lba)) continue;
    seen.add(d.lba);
    dirs.push(d);
    for (const r of raw.records(image, d)) {
      records.push(r.at);
      for (let at = r.suAt; at + 4 <= r.at + r.length; ) {
        const len = image[at + 2] ?? 0;
        if (len < 4) break;
        susp.push(at);
        if (image.toString('latin1', at, at + 2) === 'CE') {
          const ce = image.readUInt32LE(at + 4) * 2048 + image.readUInt32LE(at + 12);
          for (let c = ce; c + 4 <= ce + image.readUInt32LE(at + 20); ) {
            const l = image[c + 2] ?? 0;
            if (l < 4) break;
            susp.push(c);
            c += l;
          }
        }
        at += len;
      }
      if (r.flags & 2 && r.id !== '\0' && r.id !== '\x01') queue.push(r);
    }
  }
  return { records, susp, dirs };
}

async function makeSeed(name: string, image: Buffer): Promise<Seed> {
  const { records, susp, dirs } = structure(image);
  const r = await openIsoSource(bufferSource(image));
  if (!r.ok) throw new Error(`seed ${name} does not open: ${r.reason}`);
  // Structure lives below the first file's data (the boot catalog counts as structure).
  let firstData = image.length;
  for await (const e of r.iso.walk()) {
    if (!e.isDirectory && e.name !== 'boot.cat') for (const x of e.extents) firstData = Math.min(firstData, x.offset);
  }
  const meta: Array<[number, number]> = [[raw.PVD, Math.max(raw.PVD + 2048, firstData)]];
  for (const d of dirs) meta.push([d.lba * 2048, d.lba * 2048 + Math.max(d.size, 1)]);
  return { name, image, meta, records, susp, volumeBlocks: r.iso.volumeSpaceSize };
}

// ---- mutators -------------------------------------------------------------------------------

type Mutator = { name: string; apply: (rng: Prng, b: Buffer, s: Seed) => Buffer };

function metaOffset(rng: Prng, s: Seed): number {
  const [a, z] = rng.pick(s.meta);
  return a + rng.int(Math.max(1, z - a));
}

function interesting32(rng: Prng, s: Seed): number {
  return rng.pick([0, 1, 15, 16, 17, 18, s.volumeBlocks - 1, s.volumeBlocks, s.volumeBlocks + 1, 0x7fffffff, 0xffffffff, 2048, 4096, rng.u32(), rng.int(s.volumeBlocks + 4)]);
}

function setBoth32Safe(b: Buffer, at: number, v: number): void {
  if (at >= 0 && at + 8 <= b.length) raw.setBoth32(b, at, v);
}

const MUTATORS: Mutator[] = [
  {
    name: 'bit flips',
    apply: (rng, b, s) => {
      for (let n = 1 + rng.int(8); n > 0; n--) {
        const at = metaOffset(rng, s);
        if (at < b.length) b[at] = (b[at] ?? 0) ^ (1 << rng.int(8));
      }
      return b;
    },
  },
  {
    name: 'random bytes',
    apply: (rng, b, s) => {
      const at = metaOffset(rng, s);
      for (let i = 0, n = 1 + rng.int(24); i < n && at + i < b.length; i++) b[at + i] = rng.byte();
      return b;
    },
  },
  {
    name: 'record fields',
    apply: (rng, b, s) => {
      const at = rng.pick(s.records);
      switch (rng.int(7)) {
        case 0:
          b[at] = rng.pick([0, 1, 32, 33, 34, 255, rng.byte()]);
          break;
        case 1:
          b[at + 1] = rng.pick([0, 1, 255, rng.byte()]); // extended attribute length
          break;
        case 2:
          setBoth32Safe(b, at + 2, interesting32(rng, s));
          break;
        case 3:
          setBoth32Safe(b, at + 10, interesting32(rng, s));
          break;
        case 4:
          b[at + 25] = rng.pick([0, 2, 0x80, 0x82, 0x04, 0x01, rng.byte(), (b[at + 25] ?? 0) ^ 0x80, (b[at + 25] ?? 0) ^ 2]);
          break;
        case 5:
          b[at + 32] = rng.pick([0, 1, 2, 200, 255, rng.byte()]);
          break;
        default:
          b[at + 26] = rng.byte(); // interleaving
          break;
      }
      return b;
    },
  },
  {
    name: 'SUSP entries',
    apply: (rng, b, s) => {
      if (s.susp.length === 0) return b;
      const at = rng.pick(s.susp);
      switch (rng.int(6)) {
        case 0:
          b[at + 2] = rng.pick([0, 1, 3, 4, 5, 28, 255, rng.byte()]);
          break;
        case 1:
          b.write(rng.pick(['CE', 'NM', 'SL', 'PX', 'TF', 'RE', 'CL', 'PL', 'SP', 'ST', 'ER', 'ZF']), at, 'latin1');
          break;
        case 2:
          b[at + 4] = rng.byte(); // NM/SL/TF flags
          break;
        case 3:
          setBoth32Safe(b, at + 4, interesting32(rng, s)); // CE/CL block, PX mode
          break;
        case 4:
          setBoth32Safe(b, at + 12, rng.pick([0, 28, 2020, 2048, rng.u32()])); // CE offset
          setBoth32Safe(b, at + 20, rng.pick([0, 28, 237, 2048, 65536, rng.u32()])); // CE length
          break;
        default:
          for (let i = 4; i < (b[at + 2] ?? 4) && at + i < b.length; i++) if (rng.chance(3)) b[at + i] = rng.byte();
          break;
      }
      return b;
    },
  },
  {
    name: 'descriptor fields',
    apply: (rng, b, s) => {
      const sector = 16 + rng.int(4);
      const base = sector * 2048;
      switch (rng.int(8)) {
        case 0:
          setBoth32Safe(b, base + 80, interesting32(rng, s));
          break;
        case 1:
          b.writeUInt16LE(rng.pick([0, 512, 1024, 2048, 4096, rng.int(65536)]), base + 128);
          break;
        case 2:
          setBoth32Safe(b, base + 156 + 2, interesting32(rng, s));
          break;
        case 3:
          setBoth32Safe(b, base + 156 + 10, interesting32(rng, s));
          break;
        case 4:
          b[base] = rng.pick([0, 1, 2, 3, 255, rng.byte()]);
          break;
        case 5:
          b[base + 6] = rng.pick([0, 1, 2, rng.byte()]);
          break;
        case 6:
          b.write(rng.pick(['%/@', '%/C', '%/E', 'xyz']), base + 88, 'latin1');
          break;
        default:
          b.writeUInt32LE(interesting32(rng, s), base + 71); // El Torito catalog pointer
          break;
      }
      return b;
    },
  },
  {
    name: 'truncate',
    apply: (rng, b, s) => {
      const cut = rng.chance(2) ? metaOffset(rng, s) : rng.int(b.length + 1);
      return b.subarray(0, cut);
    },
  },
  {
    name: 'splice',
    apply: (rng, b, s) => {
      const from = metaOffset(rng, s);
      const to = metaOffset(rng, s);
      const len = 1 + rng.int(rng.chance(4) ? 2048 : 64);
      b.copy(b, to, from, Math.min(b.length, from + len));
      return b;
    },
  },
];

function mutate(rng: Prng, seed: Seed): { data: Buffer; mutators: string[] } {
  let data: Buffer = Buffer.from(seed.image);
  const chosen: Mutator[] = [];
  for (let n = rng.chance(4) ? 2 + rng.int(3) : 1; n > 0; n--) chosen.push(rng.pick(MUTATORS));
  // Truncation goes last so the other mutators always have the whole image to write into.
  chosen.sort((a, b) => Number(a.name === 'truncate') - Number(b.name === 'truncate'));
  for (const m of chosen) data = m.apply(rng, data, seed);
  return { data, mutators: chosen.map((m) => m.name) };
}

// ---- exercising one mutant ------------------------------------------------------------------

interface Counting extends ByteSource {
  reads: number;
  bytes: number;
}

function counting(inner: ByteSource): Counting {
  const c: Counting = {
    reads: 0,
    bytes: 0,
    size: inner.size,
    read: (pos, len) => {
      c.reads++;
      c.bytes += len;
      if (c.reads > MAX_READS || c.bytes > MAX_BYTES) throw new Error(`unbounded work: ${c.reads} reads, ${c.bytes} bytes`);
      return inner.read(pos, len);
    },
    close: () => inner.close(),
  };
  return c;
}

interface Tally {
  opened: number;
  refused: Record<string, number>;
  entries: number;
  filesRead: number;
  fileRefusals: number;
  streamed: number;
  streamErrors: number;
  catalogs: number;
  catalogRefusals: number;
  warnings: number;
  maxReads: number;
  maxBytes: number;
}

async function drain(s: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const chunk of s) n += (chunk as Buffer).length;
  return n;
}

/** Walks everything the image offers; throws (a test failure) on any broken promise of the API. */
async function exercise(iso: IsoImage, size: number, t: Tally): Promise<void> {
  const paths = new Set<string>();
  for await (const e of iso.walk()) {
    t.entries++;
    if (paths.has(e.path)) throw new Error(`path listed twice: ${e.path}`);
    paths.add(e.path);
    if ((await iso.stat(e.path)) !== e) throw new Error(`stat disagrees with walk for ${e.path}`);
    for (const x of e.extents) if (x.offset < 0 || x.length < 0 || x.offset + x.length > size) throw new Error(`${e.path}: extent outside the file`);
    if (e.size !== (e.isDirectory ? (e.extents[0]?.length ?? 0) : e.extents.reduce((n, x) => n + x.length, 0))) throw new Error(`${e.path}: size disagrees with extents`);
    if (e.isDirectory) {
      if ((await iso.list(e.path)) === null) throw new Error(`${e.path}: directory cannot be listed`);
      continue;
    }
    const r = await iso.readFile(e, { maxBytes: 64 * 1024 });
    if (r.ok) {
      t.filesRead++;
      if (r.data.length !== e.size) throw new Error(`${e.path}: read ${r.data.length} of ${e.size} bytes`);
    } else {
      t.fileRefusals++;
      if (!FILE_CODES.has(r.code) || r.reason === '') throw new Error(`${e.path}: bad file refusal ${r.code} ${r.reason}`);
    }
    if (e.size > 0 && e.symlinkTarget === undefined) {
      const end = Math.min(e.size - 1, 4095);
      try {
        const got = await drain(iso.createReadStream(e, { start: 0, end, chunkSize: 1024 }));
        if (got !== end + 1) throw new Error(`${e.path}: streamed ${got} of ${end + 1} bytes`);
        t.streamed++;
      } catch (err) {
        if (!(err instanceof Error) || !('code' in err)) throw err;
        t.streamErrors++;
      }
    }
  }
  if ((await iso.list('/')) === null) throw new Error('root cannot be listed');
  const cat = await iso.elTorito();
  if (cat.ok) t.catalogs += cat.catalog ? 1 : 0;
  else {
    t.catalogRefusals++;
    if (cat.reason === '') throw new Error('catalog refusal without a reason');
  }
  t.warnings += iso.warnings.length;
}

function account(r: IsoReadResult, t: Tally): IsoImage | null {
  if (r.ok) {
    t.opened++;
    return r.iso;
  }
  if (!OPEN_CODES.has(r.code) || typeof r.reason !== 'string' || r.reason === '') throw new Error(`bad refusal ${r.code} ${String(r.reason)}`);
  t.refused[r.code] = (t.refused[r.code] ?? 0) + 1;
  return null;
}

// ---- seeds ----------------------------------------------------------------------------------

let work = '';
const seeds: Seed[] = [];

beforeAll(async () => {
  work = await makeTempDir('iso-fuzz');
  const nocloud = [
    { path: 'user-data', data: Buffer.from('#cloud-config\nhostname: n1\n') },
    { path: 'meta-data', data: Buffer.from('instance-id: n1\n') },
    { path: 'network-config', data: Buffer.from('version: 2\n') },
  ];
  seeds.push(await makeSeed('writer nocloud', buildIso(nocloud, { volumeId: 'cidata' })));
  seeds.push(await makeSeed('writer plain', buildIso(nocloud, { volumeId: 'cidata', rockRidge: false, joliet: false })));
  seeds.push(await makeSeed('writer joliet', buildIso(nocloud, { volumeId: 'cidata', rockRidge: false })));
  const tree = Array.from({ length: 40 }, (_, i) => ({ path: `d${i % 3}/sub${i % 2}/file-${i}.txt`, data: Buffer.from(`file ${i}\n`) }));
  seeds.push(await makeSeed('writer tree', buildIso(tree, { volumeId: 'TREE' })));

  // Hand-made multi-extent file (records A, B, C over blocks B, A, C).
  const multi = buildIso([{ path: 'big.bin', data: seededBytes(5096, 61) }], { volumeId: 'MULTI', joliet: false });
  const root = raw.rootRecord(multi);
  const big = raw.child(multi, root, 'BIG.BIN');
  raw.splitIntoExtents(multi, root, 'BIG.BIN', [
    { lba: big.lba + 1, length: 2048 },
    { lba: big.lba, length: 2048 },
    { lba: big.lba + 2, length: 1000 },
  ]);
  seeds.push(await makeSeed('multi-extent', multi));

  const src = join(work, 'src');
  const chain = Array.from({ length: 10 }, (_, i) => `l${i + 1}`).join('/');
  await writeTree(src, {
    'config.yaml': '#cloud-config\n',
    'boot/grub2/grub.cfg': 'menuentry x {}\n',
    'boot/link': { symlink: '../config.yaml' },
    [`${'n'.repeat(220)}.txt`]: 'long name\n',
    [`${chain}/leaf`]: 'deep\n',
    'isolinux/isolinux.bin': seededBytes(2048, 62),
    'efi.img': seededBytes(8192, 63),
  });
  const rr = await mkisofs(src, join(work, 'rr.iso'), ['-R', '-J', '-joliet-long', '-no-pad']);
  seeds.push(await makeSeed('xorriso rr+joliet', await readFile(rr)));
  const boot = await mkisofs(src, join(work, 'boot.iso'), [
    '-R',
    '-no-pad',
    '-V',
    'COS_LIVE',
    '-b',
    'isolinux/isolinux.bin',
    '-c',
    'isolinux/boot.cat',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-eltorito-alt-boot',
    '-e',
    'efi.img',
    '-no-emul-boot',
  ]);
  seeds.push(await makeSeed('xorriso el torito', await readFile(boot)));
  const reloc = join(work, 'reloc.iso');
  await runOk('xorriso', ['-compliance', 'deep_paths_off', '-rr_reloc_dir', 'rr_moved', '-padding', '0', '-outdev', reloc, '-map', src, '/', '-commit']);
  seeds.push(await makeSeed('xorriso relocated', await readFile(reloc)));
}, 120_000);

afterAll(async () => {
  await removeDir(work);
});

describe('ISO9660 reader fuzz', () => {
  it(`survives ${TOTAL} seeded mutants (seed 0x${SEED.toString(16)})`, { timeout: 180_000 }, async () => {
    const rng = new Prng(SEED);
    const t: Tally = { opened: 0, refused: {}, entries: 0, filesRead: 0, fileRefusals: 0, streamed: 0, streamErrors: 0, catalogs: 0, catalogRefusals: 0, warnings: 0, maxReads: 0, maxBytes: 0 };
    const failures: string[] = [];
    const perSeed = new Map<string, number>();
    let viaFile = 0;

    for (let i = 0; i < TOTAL; i++) {
      const seed = seeds[i % seeds.length];
      if (!seed) throw new Error('no seeds');
      const { data, mutators } = mutate(rng, seed);
      perSeed.set(seed.name, (perSeed.get(seed.name) ?? 0) + 1);
      const src = counting(bufferSource(data));
      try {
        let result: IsoReadResult;
        if (i % FILE_EVERY === 0) {
          const p = join(work, 'mutant.iso');
          await writeFile(p, data);
          result = await openIso(p, LIMITS);
          viaFile++;
        } else {
          result = await openIsoSource(src, LIMITS);
        }
        const iso = account(result, t);
        if (iso) {
          await exercise(iso, data.length, t);
          await iso.close();
        }
      } catch (err) {
        if (failures.length < 5) failures.push(`#${i} ${seed.name} [${mutators.join(', ')}]: ${err instanceof Error ? err.stack : String(err)}`);
      }
      t.maxReads = Math.max(t.maxReads, src.reads);
      t.maxBytes = Math.max(t.maxBytes, src.bytes);
    }

    expect(failures).toEqual([]);
    const refused = Object.values(t.refused).reduce((a, b) => a + b, 0);
    expect(t.opened + refused).toBe(TOTAL);
    // The mix must reach deep into both outcomes, or the fuzz proves little.
    expect(t.opened).toBeGreaterThan(TOTAL / 5);
    expect(t.refused.RB_ISO_CORRUPT ?? 0).toBeGreaterThan(TOTAL / 20);
    expect(t.refused.RB_ISO_TRUNCATED ?? 0).toBeGreaterThan(TOTAL / 50);
    expect(t.refused.RB_ISO_NOT_ISO ?? 0).toBeGreaterThan(0);
    expect(t.filesRead).toBeGreaterThan(TOTAL);
    expect(t.catalogs).toBeGreaterThan(0);
    expect(t.catalogRefusals).toBeGreaterThan(0);
    expect(viaFile).toBe(Math.ceil(TOTAL / FILE_EVERY));
    expect(t.maxReads).toBeLessThan(MAX_READS);
    console.log(`iso9660 fuzz seed 0x${SEED.toString(16)}: ${TOTAL} mutants of ${seeds.length} seeds, ${viaFile} through files; ${JSON.stringify(t)}`);
  });
});
