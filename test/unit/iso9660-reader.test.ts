// ISO9660 reader against images built in the test by xorriso (plain, Joliet, Rock Ridge, both; a
// deep tree, relocated directories, a 2,000-file directory, 200- and 255-byte names, a Kairos
// layout with BIOS + EFI El Torito) and against a hand-made multi-extent file. Every listing is
// compared with xorriso's own, every extract with osirrox's and with the source bytes.
import { access, copyFile, mkdir, open as openFile, readFile, statfs, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIso, openIsoBuffer, openIsoSource, type IsoEntry, type IsoImage, type IsoReadResult } from '../../server/iso9660/reader.js';
import { bufferSource, type ByteSource } from '../../server/iso9660/source.js';
import { buildIso } from '../../server/iso9660/writer.js';
import * as raw from '../support/iso-raw.js';
import {
  SOURCE_TIME,
  filesUnder,
  hashFile,
  hashStream,
  makeTempDir,
  mkisofs,
  osirroxExtract,
  removeDir,
  run,
  runOk,
  seededBytes,
  sha256,
  writeTree,
  xorrisoFind,
  type TreeSpec,
} from '../support/iso-tools.js';

const BASIC: TreeSpec = {
  'config.yaml': '#cloud-config\ninstall:\n  auto: true\n',
  'boot/grub2/grub.cfg': 'menuentry "Kairos" {\n  linux /boot/kernel\n}\n',
  'boot/link': { symlink: '../config.yaml' },
  'data/random.bin': seededBytes(3 * 1024 * 1024 + 17, 1),
  'empty.txt': '',
  'MixedCase Name.txt': 'mixed\n',
  'a.b.c.tar.gz': seededBytes(5000, 2),
  'ünïcödé.txt': 'unicode\n',
};

type Variant = 'plain' | 'joliet' | 'rr' | 'rrJoliet';
const VARIANT_ARGS: Record<Variant, string[]> = {
  plain: ['--norock'],
  joliet: ['--norock', '-J'],
  rr: ['-R'],
  rrJoliet: ['-R', '-J'],
};
/** How xorriso must read each variant to see the names our reader shows. */
const VARIANT_READ_FS: Record<Variant, 'any' | 'ecma119'> = { plain: 'ecma119', joliet: 'any', rr: 'any', rrJoliet: 'any' };

let work = '';
const isos: Record<string, string> = {};

async function mustOpen(path: string, opts: Parameters<typeof openIso>[1] = {}): Promise<IsoImage> {
  const r = await openIso(path, opts);
  if (!r.ok) throw new Error(`${path}: ${r.code} ${r.reason}`);
  return r.iso;
}

async function entries(iso: IsoImage): Promise<IsoEntry[]> {
  const out: IsoEntry[] = [];
  for await (const e of iso.walk()) out.push(e);
  return out;
}

const rel = (e: IsoEntry): string => e.path.slice(1);

function expectFailure(r: IsoReadResult, code: string, reason: RegExp): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.code).toBe(code);
  expect(r.reason).toMatch(reason);
}

/** A ByteSource that counts what it is asked for. */
function counting(inner: ByteSource): ByteSource & { reads: number; bytes: number } {
  const c = {
    reads: 0,
    bytes: 0,
    size: inner.size,
    read: async (pos: number, len: number): Promise<Buffer> => {
      c.reads++;
      c.bytes += len;
      return inner.read(pos, len);
    },
    close: () => inner.close(),
  };
  return c;
}

beforeAll(async () => {
  work = await makeTempDir('iso-reader');
  const basic = join(work, 'basic');
  await writeTree(basic, BASIC);
  for (const v of Object.keys(VARIANT_ARGS) as Variant[]) {
    isos[v] = await mkisofs(basic, join(work, `${v}.iso`), [...VARIANT_ARGS[v], '-V', `RB_${v.toUpperCase()}`]);
  }

  const chain = Array.from({ length: 20 }, (_, i) => `d${i + 1}`).join('/');
  const deep = join(work, 'deep');
  await writeTree(deep, { [`${chain}/leaf.txt`]: 'deep leaf\n', 'd1/d2/side.txt': 'side\n' });
  isos.deepRr = await mkisofs(deep, join(work, 'deep-rr.iso'), ['-R', '-J']);
  isos.deepPlain = await mkisofs(deep, join(work, 'deep-plain.iso'), ['--norock']);
  // Native xorriso relocates directories deeper than 8 levels into rr_moved (RE/CL/PL entries).
  isos.deepReloc = join(work, 'deep-reloc.iso');
  await runOk('xorriso', ['-compliance', 'deep_paths_off', '-rr_reloc_dir', 'rr_moved', '-outdev', isos.deepReloc, '-map', deep, '/', '-commit']);

  const many: TreeSpec = {};
  for (let i = 0; i < 2000; i++) many[`many/file-${String(i).padStart(4, '0')}.txt`] = `file ${i}\n`;
  const manyDir = join(work, 'many');
  await writeTree(manyDir, many);
  isos.manyRr = await mkisofs(manyDir, join(work, 'many-rr.iso'), ['-R', '-J']);
  isos.manyJoliet = await mkisofs(manyDir, join(work, 'many-joliet.iso'), ['--norock', '-J']);
  isos.manyPlain = await mkisofs(manyDir, join(work, 'many-plain.iso'), ['--norock']);

  const longDir = join(work, 'long');
  await writeTree(longDir, {
    [`${'n'.repeat(196)}.txt`]: 'two hundred\n',
    [`${'x'.repeat(251)}.bin`]: seededBytes(3000, 3),
    [`dir-${'d'.repeat(195)}/${'f'.repeat(200)}`]: 'nested long\n',
    short: 'short\n',
  });
  isos.long = await mkisofs(longDir, join(work, 'long.iso'), ['-R']);
}, 300_000);

afterAll(async () => {
  await removeDir(work);
});

describe('volume descriptors and namespaces', () => {
  it.each([
    ['plain', false, false, 'iso9660'],
    ['joliet', true, false, 'joliet'],
    ['rr', false, true, 'rock-ridge'],
    ['rrJoliet', true, true, 'rock-ridge'],
  ] as const)('%s: Joliet %s, Rock Ridge %s, names from %s', async (v, joliet, rr, source) => {
    const iso = await mustOpen(isos[v] ?? '');
    expect(iso.volumeId).toBe(`RB_${v.toUpperCase()}`);
    expect(iso.hasJoliet).toBe(joliet);
    expect(iso.hasRockRidge).toBe(rr);
    expect(iso.nameSource).toBe(source);
    expect(iso.logicalBlockSize).toBe(2048);
    expect(iso.volumeSpaceSize * 2048).toBeLessThanOrEqual(iso.sizeBytes);
    expect(iso.applicationId).toBe('');
    expect(iso.creationDate).toBeInstanceOf(Date);
    expect(Math.abs((iso.creationDate?.getTime() ?? 0) - Date.now())).toBeLessThan(24 * 3600_000);
    expect(iso.warnings).toEqual([]);
    await iso.close();
  });

  it('reads the PVD text fields', async () => {
    const src = join(work, 'ids');
    await writeTree(src, { 'a.txt': 'a' });
    const path = await mkisofs(src, join(work, 'ids.iso'), ['-V', 'MY_VOLUME', '-sysid', 'RACKBOOT', '-volset', 'SET1', '-publisher', 'PUB', '-A', 'APP ID']);
    const iso = await mustOpen(path);
    expect([iso.volumeId, iso.systemId, iso.volumeSetId, iso.publisherId, iso.applicationId]).toEqual(['MY_VOLUME', 'RACKBOOT', 'SET1', 'PUB', 'APP ID']);
    await iso.close();
  });
});

describe.each(['plain', 'joliet', 'rr', 'rrJoliet'] as const)('%s image', (v) => {
  it('lists exactly the names xorriso lists', async () => {
    const iso = await mustOpen(isos[v] ?? '');
    const mine = (await entries(iso)).map(rel).sort();
    expect(mine).toEqual(await xorrisoFind(isos[v] ?? '', VARIANT_READ_FS[v]));
    await iso.close();
  });

  it('streams every file byte-identical to osirrox extracts', async () => {
    const iso = await mustOpen(isos[v] ?? '');
    const out = join(work, `extract-${v}`);
    await osirroxExtract(isos[v] ?? '', out, VARIANT_READ_FS[v]);
    const files = (await entries(iso)).filter((e) => !e.isDirectory && e.symlinkTarget === undefined);
    expect(files.map(rel).sort()).toEqual(await filesUnder(out));
    for (const f of files) {
      const mine = await hashStream(iso.createReadStream(f));
      const theirs = await hashFile(join(out, rel(f)));
      expect(mine, f.path).toEqual({ ...theirs, chunks: mine.chunks });
    }
    await iso.close();
  });

  it('records the source mtime on every file', async () => {
    const iso = await mustOpen(isos[v] ?? '');
    for (const e of await entries(iso)) {
      if (e.symlinkTarget !== undefined) continue;
      expect(e.mtime?.toISOString(), e.path).toBe(SOURCE_TIME.toISOString());
    }
    await iso.close();
  });
});

describe('exact names, contents and attributes', () => {
  it.each(['joliet', 'rr', 'rrJoliet'] as const)('%s: every source file by its exact name and bytes', async (v) => {
    const iso = await mustOpen(isos[v] ?? '');
    for (const [name, content] of Object.entries(BASIC)) {
      if (typeof content === 'object' && !Buffer.isBuffer(content)) continue;
      const want = Buffer.from(content);
      const e = await iso.stat(`/${name}`);
      expect(e, name).not.toBeNull();
      expect(e?.size).toBe(want.length);
      const got = await iso.readFile(`/${name}`, { maxBytes: 8 * 1024 * 1024 });
      expect(got.ok && sha256(got.data)).toBe(sha256(want));
    }
    await iso.close();
  });

  it('plain ISO9660 names drop the ;1 version and the trailing dot', async () => {
    const iso = await mustOpen(isos.plain ?? '');
    const top = (await iso.list('/'))?.map((e) => e.name);
    expect(top).toContain('CONFIG.YAM');
    expect(top).toContain('EMPTY.TXT');
    expect(top?.some((n) => n.includes(';') || n.endsWith('.'))).toBe(false);
    expect((await iso.stat('/BOOT/GRUB2/GRUB.CFG'))?.size).toBe(Buffer.byteLength(BASIC['boot/grub2/grub.cfg'] as string));
    expect(await iso.stat('/boot/grub2/grub.cfg')).toBeNull(); // names are exact, no case folding
    await iso.close();
  });

  it('Rock Ridge: symlink target, POSIX modes, empty file without extents', async () => {
    const iso = await mustOpen(isos.rrJoliet ?? '');
    const link = await iso.stat('/boot/link');
    expect(link?.symlinkTarget).toBe('../config.yaml');
    expect((link?.mode ?? 0) & 0o170000).toBe(0o120000);
    expect(link?.isDirectory).toBe(false);
    expect(((await iso.stat('/boot'))?.mode ?? 0) & 0o170000).toBe(0o040000);
    expect(((await iso.stat('/config.yaml'))?.mode ?? 0) & 0o170000).toBe(0o100000);
    const empty = await iso.stat('/empty.txt');
    expect(empty).toMatchObject({ size: 0, extents: [], isDirectory: false });
    expect(await iso.readFile('/empty.txt', { maxBytes: 0 })).toEqual({ ok: true, data: Buffer.alloc(0) });
    expect(await iso.readFile('/boot/link', { maxBytes: 10 })).toMatchObject({ ok: false, code: 'RB_ISO_NOT_A_FILE' });
    await iso.close();
  });

  it('list, stat and walk agree; paths normalise; misses are null', async () => {
    const iso = await mustOpen(isos.rr ?? '');
    const all = await entries(iso);
    for (const e of all) {
      expect(await iso.stat(e.path)).toBe(e);
      const parent = e.path.slice(0, e.path.lastIndexOf('/')) || '/';
      expect((await iso.list(parent))?.map((x) => x.path)).toContain(e.path);
    }
    // Parents come before children in walk order.
    const seen = new Set<string>(['/']);
    for (const e of all) {
      expect(seen.has(e.path.slice(0, e.path.lastIndexOf('/')) || '/')).toBe(true);
      seen.add(e.path);
    }
    expect((await iso.stat('boot//grub2/'))?.path).toBe('/boot/grub2');
    expect((await iso.stat('/'))?.isDirectory).toBe(true);
    expect(await iso.stat('/boot/../config.yaml')).toBeNull();
    expect(await iso.stat('/nope')).toBeNull();
    expect(await iso.list('/config.yaml')).toBeNull();
    expect(await iso.list('/nope')).toBeNull();
    expect((await iso.list('/'))?.map((e) => e.name).sort()).toEqual(['MixedCase Name.txt', 'a.b.c.tar.gz', 'boot', 'config.yaml', 'data', 'empty.txt', 'ünïcödé.txt']);
    await iso.close();
  });

  it('readFile is bounded and reports why it refuses', async () => {
    const iso = await mustOpen(isos.rr ?? '');
    expect(await iso.readFile('/data/random.bin', { maxBytes: 1000 })).toMatchObject({ ok: false, code: 'RB_ISO_TOO_LARGE' });
    expect(await iso.readFile('/boot', { maxBytes: 1000 })).toMatchObject({ ok: false, code: 'RB_ISO_NOT_A_FILE' });
    expect(await iso.readFile('/missing', { maxBytes: 1000 })).toMatchObject({ ok: false, code: 'RB_ISO_NOT_FOUND' });
    const cfg = await iso.stat('/config.yaml');
    expect(cfg && (await iso.readFile(cfg, { maxBytes: 1000 }))).toEqual({ ok: true, data: Buffer.from(BASIC['config.yaml'] as string) });
    const forged: IsoEntry = { path: '/forged', name: 'forged', isDirectory: false, size: 10, extents: [{ offset: iso.sizeBytes, length: 10 }], mtime: null };
    expect(await iso.readFile(forged, { maxBytes: 100 })).toMatchObject({ ok: false, code: 'RB_ISO_CORRUPT' });
    await iso.close();
    expect(await iso.readFile('/config.yaml', { maxBytes: 1000 })).toMatchObject({ ok: false, code: 'RB_ISO_CLOSED' });
  });

  it('streams byte ranges (inclusive end, like fs.createReadStream) in bounded chunks', async () => {
    const iso = await mustOpen(isos.rr ?? '');
    const e = await iso.stat('/data/random.bin');
    if (!e) throw new Error('missing');
    const whole = Buffer.from(BASIC['data/random.bin'] as Buffer);
    const full = await hashStream(iso.createReadStream(e, { chunkSize: 64 * 1024 }));
    expect(full.sha256).toBe(sha256(whole));
    expect(full.chunks).toBe(Math.ceil(whole.length / (64 * 1024)));
    for (const [start, end] of [
      [0, 0],
      [5, 70_000],
      [whole.length - 10, whole.length + 50],
      [100, undefined],
    ] as const) {
      const h = await hashStream(iso.createReadStream(e, { start, end }));
      expect(h.sha256).toBe(sha256(whole.subarray(start, end === undefined ? undefined : end + 1)));
    }
    expect((await hashStream(iso.createReadStream(e, { start: whole.length + 5 }))).bytes).toBe(0);
    const dir = await iso.stat('/boot');
    await expect(hashStream(iso.createReadStream(dir ?? e))).rejects.toMatchObject({ code: 'RB_ISO_NOT_A_FILE' });
    expect(() => iso.createReadStream(e, { start: -1 })).toThrow(RangeError);
    await iso.close();
    await expect(hashStream(iso.createReadStream(e))).rejects.toMatchObject({ code: 'RB_ISO_CLOSED' });
  });

  it('open reads the descriptors and directories only, not file data', async () => {
    const data = await readFile(isos.rr ?? '');
    const src = counting(bufferSource(data));
    const r = await openIsoSource(src);
    expect(r.ok).toBe(true);
    expect(src.bytes).toBeLessThan(64 * 1024);
    expect(data.length).toBeGreaterThan(3 * 1024 * 1024);
    if (r.ok) await r.iso.close();
  });
});

describe('deep trees, relocation, big directories, long names', () => {
  const chain = Array.from({ length: 20 }, (_, i) => `d${i + 1}`);

  it.each(['deepRr', 'deepPlain', 'deepReloc'])('%s: a 20-level tree, leaf readable', async (k) => {
    const iso = await mustOpen(isos[k] ?? '');
    const names = k === 'deepPlain' ? chain.map((c) => c.toUpperCase()) : chain;
    const leaf = `/${names.join('/')}/${k === 'deepPlain' ? 'LEAF.TXT' : 'leaf.txt'}`;
    expect(await iso.readFile(leaf, { maxBytes: 100 })).toEqual({ ok: true, data: Buffer.from('deep leaf\n') });
    expect((await entries(iso)).map(rel).sort()).toEqual(await xorrisoFind(isos[k] ?? '', k === 'deepPlain' ? 'ecma119' : 'any'));
    await iso.close();
  });

  it('relocated directories (RE/CL) appear once, where they belong', async () => {
    const image = await readFile(isos.deepReloc ?? '');
    expect(image.includes(Buffer.from('CL\x0c\x01', 'latin1'))).toBe(true);
    expect(image.includes(Buffer.from('RE\x04\x01', 'latin1'))).toBe(true);
    const iso = await mustOpen(isos.deepReloc ?? '');
    const all = await entries(iso);
    expect(all.filter((e) => e.name === 'd9')).toHaveLength(1);
    // libisofs flags rr_moved itself with RE as well, so Rock Ridge readers see neither it nor its contents.
    expect(all.filter((e) => e.path.startsWith('/rr_moved'))).toEqual([]);
    expect(all.filter((e) => e.isDirectory)).toHaveLength(20);
    await iso.close();
  });

  it('refuses trees deeper than maxDepth', async () => {
    expectFailure(await openIso(isos.deepRr ?? '', { maxDepth: 10 }), 'RB_ISO_CORRUPT', /deeper than 10 directory levels/);
  });

  it.each(['manyRr', 'manyJoliet', 'manyPlain'])('%s: a 2,000-entry directory over several sectors', async (k) => {
    const iso = await mustOpen(isos[k] ?? '');
    const many = await iso.stat(k === 'manyPlain' ? '/MANY' : '/many');
    expect(many?.size).toBeGreaterThan(20 * 2048);
    const list = (await iso.list(many?.path ?? '')) ?? [];
    expect(list).toHaveLength(2000);
    expect((await entries(iso)).map(rel).sort()).toEqual(await xorrisoFind(isos[k] ?? '', k === 'manyPlain' ? 'ecma119' : 'any'));
    if (k !== 'manyPlain') {
      // On-disk order follows the ISO9660 identifiers, not these names.
      expect(list.map((e) => e.name).sort()).toEqual(Array.from({ length: 2000 }, (_, i) => `file-${String(i).padStart(4, '0')}.txt`));
      for (const i of [0, 999, 1999]) {
        expect(await iso.readFile(`/many/file-${String(i).padStart(4, '0')}.txt`, { maxBytes: 100 })).toEqual({ ok: true, data: Buffer.from(`file ${i}\n`) });
      }
    }
    await iso.close();
  });

  it('refuses more directory records than maxEntries, and directories over maxDirectoryBytes', async () => {
    expectFailure(await openIso(isos.manyRr ?? '', { maxEntries: 500 }), 'RB_ISO_CORRUPT', /more than 500 directory records/);
    expectFailure(await openIso(isos.manyRr ?? '', { maxDirectoryBytes: 8192 }), 'RB_ISO_CORRUPT', /over the 8192-byte limit/);
  });

  it('Rock Ridge names of 200 and 255 bytes (NM through CE continuation areas)', async () => {
    const image = await readFile(isos.long ?? '');
    expect(image.includes(Buffer.from('CE\x1c\x01', 'latin1'))).toBe(true);
    const iso = await mustOpen(isos.long ?? '');
    const names = ((await iso.list('/')) ?? []).map((e) => e.name).sort();
    expect(names).toEqual([`dir-${'d'.repeat(195)}`, `${'n'.repeat(196)}.txt`, 'short', `${'x'.repeat(251)}.bin`].sort());
    expect(await iso.readFile(`/${'n'.repeat(196)}.txt`, { maxBytes: 100 })).toEqual({ ok: true, data: Buffer.from('two hundred\n') });
    const x = await iso.readFile(`/${'x'.repeat(251)}.bin`, { maxBytes: 10_000 });
    expect(x.ok && sha256(x.data)).toBe(sha256(seededBytes(3000, 3)));
    expect(await iso.readFile(`/dir-${'d'.repeat(195)}/${'f'.repeat(200)}`, { maxBytes: 100 })).toEqual({ ok: true, data: Buffer.from('nested long\n') });
    expect((await entries(iso)).map(rel).sort()).toEqual(await xorrisoFind(isos.long ?? ''));
    await iso.close();
  });
});

describe('Kairos appliance layout with El Torito BIOS and EFI', () => {
  const layout: TreeSpec = {
    'boot/kernel': seededBytes(2 * 1024 * 1024 + 3, 11),
    'boot/initrd': seededBytes(1024 * 1024 + 5, 12),
    'rootfs.squashfs': seededBytes(8 * 1024 * 1024 + 7, 13),
    'config.yaml': '#cloud-config\ninstall:\n  auto: true\n  device: auto\n',
    'boot/grub2/grub.cfg': 'set timeout=5\nmenuentry "Palette eXtended Kubernetes Edge Installer" {\n  linux /boot/kernel cdroot root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs\n  initrd /boot/initrd\n}\n',
  };
  let isoPath = '';
  let src = '';

  beforeAll(async () => {
    src = join(work, 'kairos');
    await writeTree(src, layout);
    const isolinux = '/usr/lib/ISOLINUX/isolinux.bin';
    const haveIsolinux = await access(isolinux).then(
      () => true,
      () => false,
    );
    await mkdir(join(src, 'isolinux'), { recursive: true });
    // Debian's isolinux when installed; any 2 KB file makes an equally valid no-emulation image.
    if (haveIsolinux) await copyFile(isolinux, join(src, 'isolinux', 'isolinux.bin'));
    else await writeFile(join(src, 'isolinux', 'isolinux.bin'), seededBytes(2048, 14));
    await runOk('mformat', ['-C', '-f', '1440', '-i', join(src, 'efiboot.img'), '::']);
    isoPath = await mkisofs(src, join(work, 'kairos.iso'), [
      '-R',
      '-J',
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
      'efiboot.img',
      '-no-emul-boot',
    ]);
  }, 120_000);

  it('has the layout, names, sizes and bytes of the source (streamed sha256)', async () => {
    const iso = await mustOpen(isoPath);
    expect(iso.volumeId).toBe('COS_LIVE');
    expect(iso.hasRockRidge && iso.hasJoliet).toBe(true);
    expect((await entries(iso)).map(rel).sort()).toEqual(
      ['boot', 'boot/grub2', 'boot/grub2/grub.cfg', 'boot/initrd', 'boot/kernel', 'config.yaml', 'efiboot.img', 'isolinux', 'isolinux/boot.cat', 'isolinux/isolinux.bin', 'rootfs.squashfs'].sort(),
    );
    for (const name of ['boot/kernel', 'boot/initrd', 'rootfs.squashfs', 'config.yaml', 'boot/grub2/grub.cfg', 'isolinux/isolinux.bin', 'efiboot.img']) {
      const e = await iso.stat(`/${name}`);
      if (!e) throw new Error(`missing ${name}`);
      const want = await hashFile(join(src, name));
      const got = await hashStream(iso.createReadStream(e));
      expect({ sha256: got.sha256, bytes: got.bytes }, name).toEqual({ sha256: want.sha256, bytes: want.bytes });
      expect(e.size).toBe(want.bytes);
    }
    const squash = await iso.stat('/rootfs.squashfs');
    const chunks = squash ? (await hashStream(iso.createReadStream(squash, { chunkSize: 256 * 1024 }))).chunks : 0;
    expect(chunks).toBe(Math.ceil((8 * 1024 * 1024 + 7) / (256 * 1024))); // streamed, never one buffer
    expect(await iso.readFile('/config.yaml', { maxBytes: 4096 })).toEqual({ ok: true, data: Buffer.from(layout['config.yaml'] as string) });
    expect(await iso.readFile('/rootfs.squashfs', { maxBytes: 4096 })).toMatchObject({ ok: false, code: 'RB_ISO_TOO_LARGE' });
    await iso.close();
  });

  it('El Torito: validation entry, BIOS default entry and EFI section as xorriso reports them', async () => {
    const iso = await mustOpen(isoPath);
    const r = await iso.elTorito();
    if (!r.ok || !r.catalog) throw new Error(`no catalog: ${JSON.stringify(r)}`);
    const cat = r.catalog;
    const isolinux = await iso.stat('/isolinux/isolinux.bin');
    const efi = await iso.stat('/efiboot.img');
    const bootCat = await iso.stat('/isolinux/boot.cat');
    expect(cat.catalogLba * 2048).toBe(bootCat?.extents[0]?.offset);
    expect(cat.validation).toMatchObject({ platformId: 0, platform: 'x86' });
    expect(cat.defaultEntry).toMatchObject({ platformId: 0, platform: 'x86', bootable: true, mediaType: 0, media: 'no-emulation', sectorCount: 4 });
    expect(cat.defaultEntry.imageOffset).toBe(isolinux?.extents[0]?.offset);
    expect(cat.sections).toHaveLength(1);
    expect(cat.sections[0]).toMatchObject({ platformId: 0xef, platform: 'efi' });
    expect(cat.sections[0]?.entries).toHaveLength(1);
    expect(cat.sections[0]?.entries[0]).toMatchObject({ platform: 'efi', bootable: true, media: 'no-emulation', sectorCount: 2880 });
    expect(cat.sections[0]?.entries[0]?.imageOffset).toBe(efi?.extents[0]?.offset);
    expect(cat.entries).toHaveLength(2);

    // Cross-check with xorriso: "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4         754"
    const report = await runOk('xorriso', ['-indev', isoPath, '-report_el_torito', 'plain']);
    const rows = report
      .split('\n')
      .filter((l) => l.startsWith('El Torito boot img'))
      .map((l) => l.split(':')[1]?.trim().split(/\s+/) ?? []);
    expect(rows.map((c) => [c[1], c[2], c[3], Number(c[6]), Number(c[7])])).toEqual(
      cat.entries.map((e) => [e.platform === 'efi' ? 'UEFI' : 'BIOS', e.bootable ? 'y' : 'n', e.media === 'no-emulation' ? 'none' : e.media, e.sectorCount, e.loadRba]),
    );
    expect(await iso.elTorito()).toBe(r); // parsed once
    await iso.close();
  });

  it('an image without a boot record has no catalog', async () => {
    const iso = await mustOpen(isos.rr ?? '');
    expect(await iso.elTorito()).toEqual({ ok: true, catalog: null });
    await iso.close();
  });

  it('a broken validation checksum is reported by elTorito(), the files stay readable', async () => {
    const image = await readFile(isoPath);
    const iso0 = await mustOpen(isoPath);
    const r0 = await iso0.elTorito();
    await iso0.close();
    const lba = r0.ok ? (r0.catalog?.catalogLba ?? 0) : 0;
    image[lba * 2048 + 4] = (image[lba * 2048 + 4] ?? 0) ^ 0xff;
    const r = await openIsoBuffer(image);
    if (!r.ok) throw new Error(r.reason);
    expect(await r.iso.elTorito()).toMatchObject({ ok: false, code: 'RB_ISO_CORRUPT', reason: expect.stringMatching(/checksum/) });
    expect((await r.iso.readFile('/config.yaml', { maxBytes: 1000 })).ok).toBe(true);
    image[lba * 2048 + 30] = 0;
    const r2 = await openIsoBuffer(image);
    expect(r2.ok && (await r2.iso.elTorito())).toMatchObject({ ok: false, reason: expect.stringMatching(/55 AA/) });
  });
});

describe('multi-extent files', () => {
  // Physical order B, A, C; the records list A, B, C: the reader must follow the records.
  const A = seededBytes(2048, 21);
  const B = seededBytes(2048, 22);
  const C = seededBytes(1000, 23);

  async function synthetic(): Promise<{ image: Buffer; path: string }> {
    const image = buildIso(
      [
        { path: 'big.bin', data: Buffer.concat([B, A, C]) },
        { path: 'after.txt', data: Buffer.from('after\n') },
      ],
      { volumeId: 'MULTI', joliet: false, rockRidge: true },
    );
    const root = raw.rootRecord(image);
    const big = raw.child(image, root, 'BIG.BIN');
    raw.splitIntoExtents(image, root, 'BIG.BIN', [
      { lba: big.lba + 1, length: 2048 },
      { lba: big.lba, length: 2048 },
      { lba: big.lba + 2, length: 1000 },
    ]);
    const path = join(work, 'multi.iso');
    await writeFile(path, image);
    return { image, path };
  }

  it('joins the extents of a hand-made multi-extent record set in record order', async () => {
    const { path } = await synthetic();
    const iso = await mustOpen(path);
    const e = await iso.stat('/big.bin');
    expect(e?.extents.map((x) => x.length)).toEqual([2048, 2048, 1000]);
    expect(e?.size).toBe(5096);
    const want = Buffer.concat([A, B, C]);
    expect(await iso.readFile('/big.bin', { maxBytes: 10_000 })).toEqual({ ok: true, data: want });
    if (!e) throw new Error('missing');
    expect((await hashStream(iso.createReadStream(e, { chunkSize: 700 }))).sha256).toBe(sha256(want));
    expect((await hashStream(iso.createReadStream(e, { start: 2000, end: 4200 }))).sha256).toBe(sha256(want.subarray(2000, 4201)));
    expect(((await iso.list('/')) ?? []).map((x) => x.name)).toEqual(['after.txt', 'big.bin']);
    await iso.close();
  });

  it('osirrox (libisofs) extracts the same bytes from the same records', async () => {
    const { path } = await synthetic();
    const out = join(work, 'multi-extract');
    await osirroxExtract(path, out);
    expect(sha256(await readFile(join(out, 'big.bin')))).toBe(sha256(Buffer.concat([A, B, C])));
  });

  it('a multi-extent chain cut off by the end of the directory is corrupt', async () => {
    const { image } = await synthetic();
    const root = raw.rootRecord(image);
    const last = raw.records(image, root).filter((r) => r.id.startsWith('BIG'))[2];
    if (!last) throw new Error('missing');
    image[last.at + 25] = (image[last.at + 25] ?? 0) | 0x80;
    expectFailure(await openIsoBuffer(image), 'RB_ISO_CORRUPT', /multi-extent/);
  });

  const BIG = 4 * 1024 * 1024 * 1024 + 4096;
  it('a real file over 4 GiB (iso-level 3), when the disk has room', { timeout: 600_000 }, async (ctx) => {
    const fs = await statfs(work);
    if (fs.bavail * fs.bsize < 10 * 1024 * 1024 * 1024) {
      ctx.skip();
      return;
    }
    const dir = join(work, 'big-src');
    await writeTree(dir, { 'head.txt': 'head\n' });
    const file = join(dir, 'huge.bin');
    // Sparse source: only the marks at both ends take disk space.
    await writeFile(file, seededBytes(4096, 31));
    await truncate(file, BIG);
    const fh = await openFile(file, 'r+');
    await fh.write(seededBytes(4096, 32), 0, 4096, BIG - 4096);
    await fh.close();
    const isoPath = await mkisofs(dir, join(work, 'big.iso'), ['-R', '-iso-level', '3', '-no-pad']);
    await removeDir(dir).catch(() => undefined);
    try {
      const iso = await mustOpen(isoPath);
      const e = await iso.stat('/huge.bin');
      expect(e?.size).toBe(BIG);
      expect(e?.extents.length).toBeGreaterThanOrEqual(2);
      expect(e?.extents.reduce((n, x) => n + x.length, 0)).toBe(BIG);
      if (!e) throw new Error('missing');
      const tail = await hashStream(iso.createReadStream(e, { start: BIG - 4096 }));
      expect(tail.sha256).toBe(sha256(seededBytes(4096, 32)));
      const head = await hashStream(iso.createReadStream(e, { end: 4095 }));
      expect(head.sha256).toBe(sha256(seededBytes(4096, 31)));
      // Across the extent boundary: zeros on both sides of it.
      const first = e.extents[0]?.length ?? 0;
      const across = await hashStream(iso.createReadStream(e, { start: first - 100, end: first + 99 }));
      expect(across.sha256).toBe(sha256(Buffer.alloc(200)));
      await iso.close();
    } finally {
      await run('rm', ['-f', isoPath]);
    }
  });
});

describe('bad input: a result code and a reason, never a throw', () => {
  async function fileWith(name: string, data: Buffer): Promise<string> {
    const p = join(work, name);
    await writeFile(p, data);
    return p;
  }

  /** A fresh copy of a fixture image for patching. */
  const copyOf = async (k: string): Promise<Buffer> => readFile(isos[k] ?? '');

  it('things that are not ISO images', async () => {
    expectFailure(await openIso(await fileWith('empty.bin', Buffer.alloc(0))), 'RB_ISO_NOT_ISO', /0 bytes/);
    expectFailure(await openIso(await fileWith('32k.bin', seededBytes(32 * 1024, 41))), 'RB_ISO_NOT_ISO', /system area/);
    expectFailure(await openIso(await fileWith('random.bin', seededBytes(256 * 1024, 42))), 'RB_ISO_NOT_ISO', /CD001/);
    // An empty zip (end-of-central-directory record only), padded past the system area.
    const zip = Buffer.concat([Buffer.from('504b0506' + '00'.repeat(18), 'hex'), Buffer.alloc(40 * 1024)]);
    expectFailure(await openIso(await fileWith('archive.zip', zip)), 'RB_ISO_NOT_ISO', /CD001/);
    expectFailure(await openIso(join(work, 'does-not-exist.iso')), 'RB_ISO_IO', /ENOENT/);
    expectFailure(await openIso(work), 'RB_ISO_IO', /.+/);
  });

  it('truncation anywhere is reported at open as RB_ISO_TRUNCATED', async () => {
    const image = await copyOf('rr');
    const root = raw.rootRecord(image);
    const random = raw.path(image, 'DATA', 'RANDOM.BIN');
    const cuts: Array<[string, number, RegExp]> = [
      ['mid-signature', 32768 + 4, /volume descriptor 0/],
      ['mid-PVD', 32768 + 1000, /inside volume descriptor 0/],
      ['mid-descriptor set', 32768 + 2048 + 100, /inside volume descriptor 1/],
      ['after the descriptors', 19 * 2048, /volume is/],
      ['mid-directory', root.lba * 2048 + 100, /volume is/],
      ['mid-file', random.lba * 2048 + 1_000_000, /volume is/],
      ['last byte', image.length - 1, /volume is/],
    ];
    for (const [what, at, reason] of cuts) {
      const r = await openIso(await fileWith(`cut-${at}.iso`, image.subarray(0, at)));
      expect(r.ok, what).toBe(false);
      if (!r.ok) {
        expect(r.code, what).toBe('RB_ISO_TRUNCATED');
        expect(r.reason, what).toMatch(reason);
      }
    }
  });

  it('descriptor set: missing terminator, bad version, bad block size, bad volume size, no PVD', async () => {
    const noTerm = await copyOf('plain');
    for (let s = 17; s < 17 + 64; s++) if (noTerm[s * 2048] === 255) noTerm.write('XXXXX', s * 2048 + 1, 'latin1');
    expectFailure(await openIsoBuffer(noTerm), 'RB_ISO_CORRUPT', /no CD001 signature|terminator/);

    const endless = Buffer.concat([await copyOf('plain')]);
    for (let s = 17; s < 17 + 64; s++) {
      endless[s * 2048] = 3; // partition descriptors all the way: no terminator within the bound
      endless.write('CD001', s * 2048 + 1, 'latin1');
      endless[s * 2048 + 6] = 1;
    }
    expectFailure(await openIsoBuffer(endless, { maxDescriptors: 32 }), 'RB_ISO_CORRUPT', /no volume descriptor set terminator within 32 sectors/);

    const version = await copyOf('plain');
    version[32768 + 6] = 3;
    expectFailure(await openIsoBuffer(version), 'RB_ISO_CORRUPT', /version 3/);

    const block = await copyOf('plain');
    raw.setBoth16(block, 32768 + 128, 4096);
    expectFailure(await openIsoBuffer(block), 'RB_ISO_CORRUPT', /logical block size 4096/);

    const tiny = await copyOf('plain');
    raw.setBoth32(tiny, 32768 + 80, 10);
    expectFailure(await openIsoBuffer(tiny), 'RB_ISO_CORRUPT', /does not cover its own volume descriptors/);

    const huge = await copyOf('plain');
    raw.setBoth32(huge, 32768 + 80, 0xffffffff);
    expectFailure(await openIsoBuffer(huge), 'RB_ISO_TRUNCATED', /but the volume is/);

    const noPvd = await copyOf('plain');
    noPvd[32768] = 3;
    expectFailure(await openIsoBuffer(noPvd), 'RB_ISO_CORRUPT', /no primary volume descriptor/);

    const rootFile = await copyOf('plain');
    rootFile[32768 + 156 + 25] = 0;
    expectFailure(await openIsoBuffer(rootFile), 'RB_ISO_CORRUPT', /root directory record is not flagged as a directory/);
  });

  it('bad directory record lengths', async () => {
    for (const k of ['plain', 'rr', 'joliet']) {
      const short = await copyOf(k);
      const dirRoot = k === 'joliet' ? raw.rootRecord(short, 17) : raw.rootRecord(short);
      const third = raw.records(short, dirRoot)[2];
      if (!third) throw new Error('no record');
      short[third.at] = 20;
      expectFailure(await openIsoBuffer(short), 'RB_ISO_CORRUPT', /is 20 bytes, shorter than 33/);

      const name = await copyOf(k);
      name[third.at + 32] = 250;
      expectFailure(await openIsoBuffer(name), 'RB_ISO_CORRUPT', /250-byte name that does not fit/);

      // Cut the directory's length so that its last record runs past the end.
      const over = await copyOf(k);
      const recs = raw.records(over, dirRoot);
      const last = recs[recs.length - 1];
      if (!last) throw new Error('no record');
      const cut = last.at - dirRoot.lba * 2048 + 10;
      raw.setBoth32(over, dirRoot.at + 10, cut);
      expectFailure(await openIsoBuffer(over), 'RB_ISO_CORRUPT', new RegExp(`runs past the end of the directory \\(${cut}\\)`));
    }
  });

  it('extents past the end of the volume', async () => {
    const dir = await copyOf('rr');
    raw.setExtent(dir, raw.path(dir, 'BOOT'), 0x00ffffff);
    expectFailure(await openIsoBuffer(dir), 'RB_ISO_CORRUPT', /^\/boot: extent at byte \d+ \(2048 bytes\) lies past the end of the volume/);

    const file = await copyOf('rr');
    const f = raw.path(file, 'CONFIG.YAM');
    raw.setExtent(file, f, f.lba, 0x7fffffff);
    expectFailure(await openIsoBuffer(file), 'RB_ISO_CORRUPT', /\/config.yaml: extent .* past the end of the volume/);

    const root = await copyOf('plain');
    raw.setBoth32(root, 32768 + 156 + 2, 0x00fffff0);
    expectFailure(await openIsoBuffer(root), 'RB_ISO_CORRUPT', /root directory: extent/);

    const big = await copyOf('plain');
    raw.setExtent(big, raw.path(big, 'DATA'), raw.path(big, 'DATA').lba, 64 * 1024 * 1024);
    const r = await openIsoBuffer(big);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe('RB_ISO_CORRUPT');
  });

  it('directory cycles and cross-links', async () => {
    for (const k of ['plain', 'rr']) {
      const cycle = await copyOf(k);
      const boot = raw.path(cycle, 'BOOT');
      raw.setExtent(cycle, raw.path(cycle, 'BOOT', 'GRUB2'), boot.lba, boot.size);
      expectFailure(await openIsoBuffer(cycle), 'RB_ISO_CORRUPT', /directory cycle, its extent \(byte \d+\) is that of \/(boot|BOOT)/);

      const toRoot = await copyOf(k);
      const root = raw.rootRecord(toRoot);
      raw.setExtent(toRoot, raw.path(toRoot, 'BOOT', 'GRUB2'), root.lba, root.size);
      expectFailure(await openIsoBuffer(toRoot), 'RB_ISO_CORRUPT', /directory cycle/);

      const cross = await copyOf(k);
      const grub = raw.path(cross, 'BOOT', 'GRUB2');
      raw.setExtent(cross, raw.path(cross, 'DATA'), grub.lba, grub.size);
      expectFailure(await openIsoBuffer(cross), 'RB_ISO_CORRUPT', /is already the directory/);
    }
    // Joliet tree: child pointing back at its parent.
    const j = await copyOf('joliet');
    const jroot = raw.rootRecord(j, 17);
    const jboot = raw.records(j, jroot).find((r) => r.flags & 2 && r.id.length > 1);
    if (!jboot) throw new Error('no Joliet dir');
    const jgrub = raw.records(j, jboot).find((r) => r.flags & 2 && r.id.length > 1);
    if (!jgrub) throw new Error('no Joliet subdir');
    raw.setExtent(j, jgrub, jroot.lba, jroot.size);
    expectFailure(await openIsoBuffer(j), 'RB_ISO_CORRUPT', /directory cycle/);
  });

  it('SUSP continuation (CE) loops and over-long chains', async () => {
    const image = buildIso([{ path: 'user-data', data: Buffer.from('x') }], { volumeId: 'cidata' });
    const root = raw.rootRecord(image);
    const dot = raw.records(image, root)[0];
    if (!dot) throw new Error('no dot');
    const ce = raw.suspEntry(image, dot, 'CE');
    const area = image.readUInt32LE(ce + 4);

    const loop = Buffer.from(image);
    raw.ceEntry(area, 0, 28).copy(loop, area * 2048); // the area continues into itself
    expectFailure(await openIsoBuffer(loop), 'RB_ISO_CORRUPT', /continuation \(CE\) loop/);

    const chain = Buffer.from(image);
    for (let i = 0; i < 60; i++) raw.ceEntry(area, (i + 1) * 28, 28).copy(chain, area * 2048 + i * 28);
    expectFailure(await openIsoBuffer(chain), 'RB_ISO_CORRUPT', /more than 32 SUSP continuation areas/);

    const outside = Buffer.from(image);
    raw.ceEntry(0x00ffffff, 0, 100).copy(outside, area * 2048);
    expectFailure(await openIsoBuffer(outside), 'RB_ISO_CORRUPT', /continuation area .* past the end of the volume/);

    // A CE loop on an ordinary record (long Rock Ridge name) is caught during the tree walk.
    const long = await copyOf('long');
    const rec = raw.records(long, raw.rootRecord(long)).find((r) => raw.suspEntry(long, r, 'CE') >= 0 && r.id.length > 1);
    if (!rec) throw new Error('no record with CE');
    const at = raw.suspEntry(long, rec, 'CE');
    const lba = long.readUInt32LE(at + 4);
    const off = long.readUInt32LE(at + 12);
    raw.ceEntry(lba, off, 28).copy(long, lba * 2048 + off);
    expectFailure(await openIsoBuffer(long), 'RB_ISO_CORRUPT', /continuation \(CE\) loop/);
  });

  it('unusable names are refused rather than turned into paths', async () => {
    const image = buildIso([{ path: 'abc', data: Buffer.from('x') }], { volumeId: 'V', joliet: false });
    const rec = raw.path(image, 'ABC');
    const nm = raw.suspEntry(image, rec, 'NM');
    image.write('/', nm + 5, 'latin1'); // "abc" -> "/bc"
    expectFailure(await openIsoBuffer(image), 'RB_ISO_CORRUPT', /unusable file name "\/bc"/);
    image.write('..', nm + 5, 'latin1');
    image[nm + 2] = 7; // NM length 7: name ".."
    image[nm + 7] = 0;
    const r = await openIsoBuffer(image);
    expect(r.ok).toBe(false);
  });

  it('duplicate names keep the first entry and leave a warning', async () => {
    const image = buildIso(
      [
        { path: 'aaa', data: Buffer.from('first') },
        { path: 'bbb', data: Buffer.from('second') },
      ],
      { volumeId: 'V', joliet: false },
    );
    const nm = raw.suspEntry(image, raw.path(image, 'BBB'), 'NM');
    image.write('aaa', nm + 5, 'latin1');
    const r = await openIsoBuffer(image);
    if (!r.ok) throw new Error(r.reason);
    expect(((await r.iso.list('/')) ?? []).map((e) => e.name)).toEqual(['aaa']);
    expect(r.iso.warnings).toEqual([expect.stringMatching(/^\/aaa: duplicate name/)]);
    expect(await r.iso.readFile('/aaa', { maxBytes: 10 })).toEqual({ ok: true, data: Buffer.from('first') });
  });
});
