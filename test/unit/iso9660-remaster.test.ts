// Per-machine remastered ISO views: images built here by xorriso are remastered, the virtual image is
// written out and read back by osirrox through each of its trees (Rock Ridge, Joliet, plain ISO9660)
// and by our own reader; replaced files must come back with their new bytes, every other file as it was.
import { open as openFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIso } from '../../server/iso9660/reader.js';
import { remasterIso, remasterSource, type RemasteredIso } from '../../server/iso9660/remaster.js';
import { bufferSource } from '../../server/iso9660/source.js';
import { filesUnder, makeTempDir, mkisofs, osirroxExtract, removeDir, runOk, seededBytes, sha256, writeTree, type TreeSpec } from '../support/iso-tools.js';

const deep = 'a/b/c/d/e/f/g/h/i/j';
const TREE: TreeSpec = {
  'config.yaml': '#cloud-config\ninstall:\n  auto: false\n',
  'boot/grub2/grub.cfg': 'menuentry "Kairos" {\n  linux /boot/kernel console=tty1\n  initrd /boot/initrd\n}\n',
  'isolinux/isolinux.cfg': 'LABEL live\n  LINUX /boot/kernel\n  APPEND initrd=/boot/initrd\n',
  'boot/kernel': seededBytes(700_000, 3),
  [`${deep}/deep-file-with-a-long-name-over-thirty-one-characters.txt`]: 'deep\n',
  'data/random.bin': seededBytes(2 * 1024 * 1024 + 5, 4),
  'empty.txt': '',
};

const NEW_CONFIG = Buffer.from(`#cloud-config\ninstall:\n  auto: true\n  device: /dev/disk/by-id/virtio-x\n${'# padding\n'.repeat(400)}`);
const NEW_GRUB = Buffer.from('menuentry "Kairos" {\n  linux /boot/kernel config_url=http://192.0.2.1/x\n}\n');
const NEW_DEEP = seededBytes(5000, 9);

let work = '';
const isos: Record<'rrJoliet' | 'joliet' | 'plain', string> = { rrJoliet: '', joliet: '', plain: '' };

/** Writes the virtual image to a real file, reading the base ranges from the base image. */
async function materialize(image: RemasteredIso, base: string, out: string): Promise<void> {
  const src = await openFile(base, 'r');
  const dst = await openFile(out, 'w');
  try {
    let pos = 0;
    for (const s of image.segments) {
      const buf = s.kind === 'bytes' ? s.data : Buffer.alloc(s.length);
      if (s.kind === 'base') expect((await src.read(buf, 0, s.length, s.offset)).bytesRead).toBe(s.length);
      await dst.write(buf, 0, buf.length, pos);
      pos += buf.length;
    }
    expect(pos).toBe(image.size);
  } finally {
    await src.close();
    await dst.close();
  }
}

async function remastered(base: string, replacements: Map<string, Buffer>, name: string): Promise<{ path: string; image: RemasteredIso }> {
  const r = await remasterIso(base, replacements);
  if (!r.ok) throw new Error(`${r.code}: ${r.reason}`);
  const path = join(work, name);
  await materialize(r.image, base, path);
  return { path, image: r.image };
}

async function extractedHashes(iso: string, readFs: 'any' | 'norock' | 'ecma119', name: string): Promise<Map<string, string>> {
  const dir = join(work, `x-${name}-${readFs}`);
  await osirroxExtract(iso, dir, readFs);
  const out = new Map<string, string>();
  for (const f of await filesUnder(dir)) out.set(f, sha256(await readFile(join(dir, f))));
  return out;
}

const expected = (replaced: Record<string, Buffer>): Map<string, string> => {
  const m = new Map<string, string>();
  for (const [p, v] of Object.entries(TREE)) {
    if (typeof v === 'object' && !Buffer.isBuffer(v)) continue;
    m.set(p, sha256(replaced[p] ?? (Buffer.isBuffer(v) ? v : Buffer.from(v))));
  }
  return m;
};

const REPLACED = { 'config.yaml': NEW_CONFIG, 'boot/grub2/grub.cfg': NEW_GRUB, [`${deep}/deep-file-with-a-long-name-over-thirty-one-characters.txt`]: NEW_DEEP };
const replacementMap = (): Map<string, Buffer> => new Map(Object.entries(REPLACED).map(([p, b]) => [`/${p}`, b]));

beforeAll(async () => {
  work = await makeTempDir('rb-remaster-');
  const src = join(work, 'src');
  await writeTree(src, TREE);
  isos.rrJoliet = await mkisofs(src, join(work, 'rr-joliet.iso'), ['-R', '-J', '-joliet-long', '-V', 'COS_LIVE']);
  isos.joliet = await mkisofs(src, join(work, 'joliet.iso'), ['--norock', '-J', '-joliet-long']);
  isos.plain = await mkisofs(src, join(work, 'plain.iso'), ['--norock', '-iso-level', '3']);
});

afterAll(async () => {
  if (work) await removeDir(work);
});

describe('remasterIso', () => {
  it('replaces files in the Rock Ridge and the Joliet tree alike, leaving every other byte of the base', async () => {
    const { path, image } = await remastered(isos.rrJoliet, replacementMap(), 'rr-joliet.out.iso');
    expect(image.files.map((f) => [f.path, f.records])).toEqual([
      ['/config.yaml', 2],
      ['/boot/grub2/grub.cfg', 2],
      [`/${deep}/deep-file-with-a-long-name-over-thirty-one-characters.txt`, 2],
    ]);
    const base = await readFile(isos.rrJoliet);
    expect(image.baseSize).toBe(base.length);
    expect(image.size % 2048).toBe(0);
    expect(image.files[0]!.offset).toBe(Math.ceil(base.length / 2048) * 2048);
    // Only whole sectors of descriptors and directories differ from the base; the rest is shared.
    const patchedBytes = image.segments.filter((s) => s.kind === 'bytes').reduce((n, s) => n + (s.kind === 'bytes' ? s.data.length : 0), 0);
    expect(patchedBytes - NEW_CONFIG.length - NEW_GRUB.length - NEW_DEEP.length).toBeLessThan(16 * 2048 + 3 * 2048);

    const want = expected(REPLACED);
    expect(await extractedHashes(path, 'any', 'rrj')).toEqual(want); // Rock Ridge names
    expect(await extractedHashes(path, 'norock', 'rrj')).toEqual(want); // Joliet names
    // The plain ISO9660 tree: names are mangled, but it must hold exactly the same file contents.
    const plain = await extractedHashes(path, 'ecma119', 'rrj');
    expect([...plain.values()].sort()).toEqual([...want.values()].sort());

    // xorriso sizes the session from the PVD's volume space size.
    const info = await runOk('xorriso', ['-indev', path, '-toc']);
    expect(info).toMatch(new RegExp(`1 session, ${image.size / 2048} data blocks`));

    const r = await openIso(path);
    if (!r.ok) throw new Error(r.reason);
    expect(r.iso.nameSource).toBe('rock-ridge');
    expect(r.iso.volumeSpaceSize * 2048).toBe(image.size);
    for (const [p, data] of Object.entries(REPLACED)) {
      const f = await r.iso.readFile(`/${p}`, { maxBytes: 1 << 20 });
      expect(f.ok && f.data.equals(data), p).toBe(true);
    }
    const kernel = await r.iso.readFile('/boot/kernel', { maxBytes: 1 << 20 });
    expect(kernel.ok && kernel.data.equals(TREE['boot/kernel'] as Buffer)).toBe(true);
    await r.iso.close();
  });

  it('patches the Joliet tree of an image without Rock Ridge, and the primary tree it carries', async () => {
    const { path, image } = await remastered(isos.joliet, replacementMap(), 'joliet.out.iso');
    expect(image.files.every((f) => f.records === 2)).toBe(true);
    const r = await openIso(path);
    if (!r.ok) throw new Error(r.reason);
    expect(r.iso.nameSource).toBe('joliet');
    const f = await r.iso.readFile(`/${deep}/deep-file-with-a-long-name-over-thirty-one-characters.txt`, { maxBytes: 1 << 20 });
    expect(f.ok && f.data.equals(NEW_DEEP)).toBe(true);
    await r.iso.close();
    expect(await extractedHashes(path, 'norock', 'j')).toEqual(expected(REPLACED));
    const plain = await extractedHashes(path, 'ecma119', 'j');
    expect([...plain.values()].sort()).toEqual([...expected(REPLACED).values()].sort());
  });

  it('works on a plain ISO9660 image by its ISO names, and with an empty replacement', async () => {
    const { path, image } = await remastered(isos.plain, new Map([['/CONFIG.YAML', Buffer.alloc(0)]]), 'plain.out.iso');
    expect(image.files).toEqual([{ path: '/CONFIG.YAML', offset: expect.any(Number), size: 0, records: 1 }]);
    const r = await openIso(path);
    if (!r.ok) throw new Error(r.reason);
    expect((await r.iso.stat('/CONFIG.YAML'))?.size).toBe(0);
    const k = await r.iso.readFile('/BOOT/KERNEL', { maxBytes: 1 << 20 });
    expect(k.ok && k.data.equals(TREE['boot/kernel'] as Buffer)).toBe(true);
    await r.iso.close();
  });

  it('with nothing replaced, the view is the base image', async () => {
    const r = await remasterIso(isos.rrJoliet, new Map());
    if (!r.ok) throw new Error(r.reason);
    const out = join(work, 'same.iso');
    await materialize(r.image, isos.rrJoliet, out);
    const base = await readFile(isos.rrJoliet);
    const got = await readFile(out);
    expect(got.subarray(0, base.length).equals(base)).toBe(true);
    expect(got.subarray(base.length).every((b) => b === 0)).toBe(true);
  });

  it('refuses what it cannot replace with a clear reason', async () => {
    const missing = await remasterIso(isos.rrJoliet, new Map([['/nope.yaml', Buffer.from('x')]]));
    expect(missing).toMatchObject({ ok: false, code: 'RB_ISO_NOT_FOUND', reason: expect.stringContaining('/nope.yaml') });
    const dir = await remasterIso(isos.rrJoliet, new Map([['/boot', Buffer.from('x')]]));
    expect(dir).toMatchObject({ ok: false, code: 'RB_ISO_NOT_A_FILE' });
    const twice = await remasterIso(isos.rrJoliet, new Map([['/config.yaml', Buffer.from('x')], ['//config.yaml', Buffer.from('y')]]));
    expect(twice).toMatchObject({ ok: false, code: 'RB_ISO_NOT_FOUND', reason: expect.stringContaining('twice') });
    const up = await remasterIso(isos.rrJoliet, new Map([['/boot/../config.yaml', Buffer.from('x')]]));
    expect(up.ok).toBe(false);
    const absent = await remasterIso(join(work, 'does-not-exist.iso'), new Map());
    expect(absent).toMatchObject({ ok: false, code: 'RB_ISO_IO' });
    const notIso = join(work, 'not.iso');
    await writeFile(notIso, seededBytes(64 * 1024, 5));
    expect(await remasterIso(notIso, new Map())).toMatchObject({ ok: false, code: 'RB_ISO_NOT_ISO' });
    const base = await readFile(isos.rrJoliet);
    const cut = await remasterSource(bufferSource(base.subarray(0, base.length - 300_000)), replacementMap());
    expect(cut).toMatchObject({ ok: false, code: 'RB_ISO_TRUNCATED' });
  });

  it('never throws on corrupted directory and descriptor sectors', async () => {
    const base = await readFile(isos.rrJoliet);
    let failures = 0;
    for (let i = 0; i < 300; i++) {
      const img = Buffer.from(base);
      const noise = seededBytes(8, 1000 + i);
      // Sectors 16-40 hold the descriptors, path tables and directories of this small image.
      for (let k = 0; k < 4; k++) img[16 * 2048 + ((noise.readUInt16LE(k * 2) * 7 + i * 131) % (24 * 2048))] = noise[k]!;
      const r = await remasterSource(bufferSource(img), replacementMap());
      if (!r.ok) {
        failures++;
        expect(r.code).toMatch(/^RB_ISO_/);
        expect(r.reason.length).toBeGreaterThan(5);
      } else {
        expect(r.image.size % 2048).toBe(0);
      }
    }
    expect(failures).toBeGreaterThan(0);
  });
});
