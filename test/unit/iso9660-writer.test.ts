// ISO9660 writer: NoCloud 'cidata' seeds read back exactly by our reader, by xorriso in each of its
// namespaces and by osirrox; byte-identical output for the same input (golden hash).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIsoBuffer, type IsoEntry, type IsoImage } from '../../server/iso9660/reader.js';
import { buildIso, type BuildIsoFile } from '../../server/iso9660/writer.js';
import * as raw from '../support/iso-raw.js';
import { filesUnder, makeTempDir, osirroxExtract, removeDir, run, seededBytes, sha256, xorrisoFind } from '../support/iso-tools.js';

const NOCLOUD: BuildIsoFile[] = [
  { path: 'user-data', data: Buffer.from('#cloud-config\nhostname: node-01\ninstall:\n  auto: true\n  device: /dev/sda\n') },
  { path: 'meta-data', data: Buffer.from('instance-id: 4c4c4544-0042-3510-8052-b4c04f4e3232\nlocal-hostname: node-01\n') },
  { path: 'network-config', data: Buffer.from('version: 2\nethernets:\n  eno1:\n    dhcp4: true\n') },
];
/** sha256 of buildIso(NOCLOUD, { volumeId: 'cidata' }): changes only when the writer's output does. */
/** 16 system sectors, PVD, SVD, terminator, 4 path tables, 2 root directories, the ER area, 3 files. */
const NOCLOUD_SIZE = 29 * 2048;
const NOCLOUD_GOLDEN = 'b718841c2514d46ea29ea1988323f9d32647395c50d2c37933de46402e0a2623';

let work = '';
beforeAll(async () => {
  work = await makeTempDir('iso-writer');
});
afterAll(async () => {
  await removeDir(work);
});

async function open(image: Buffer): Promise<IsoImage> {
  const r = await openIsoBuffer(image);
  if (!r.ok) throw new Error(`${r.code}: ${r.reason}`);
  return r.iso;
}

async function walk(iso: IsoImage): Promise<IsoEntry[]> {
  const out: IsoEntry[] = [];
  for await (const e of iso.walk()) out.push(e);
  return out;
}

async function save(name: string, image: Buffer): Promise<string> {
  const p = join(work, name);
  await writeFile(p, image);
  return p;
}

describe('NoCloud seed', () => {
  it('reads back with exact lower-case names and bytes, volume id cidata', async () => {
    const iso = await open(buildIso(NOCLOUD, { volumeId: 'cidata' }));
    expect(iso.volumeId).toBe('cidata');
    expect(iso.hasRockRidge).toBe(true);
    expect(iso.hasJoliet).toBe(true);
    expect(iso.nameSource).toBe('rock-ridge');
    expect(iso.warnings).toEqual([]);
    expect(((await iso.list('/')) ?? []).map((e) => e.name)).toEqual(['meta-data', 'network-config', 'user-data']);
    for (const f of NOCLOUD) expect(await iso.readFile(`/${f.path}`, { maxBytes: 4096 })).toEqual({ ok: true, data: f.data });
    expect(iso.volumeSpaceSize * 2048).toBe(iso.sizeBytes);
    expect(iso.creationDate?.toISOString()).toBe('1970-01-01T00:00:00.000Z');
    await iso.close();
  });

  it('xorriso lists the same names through Rock Ridge, Joliet and plain ISO9660', async () => {
    const path = await save('nocloud.iso', buildIso(NOCLOUD, { volumeId: 'cidata' }));
    expect(await xorrisoFind(path, 'any')).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(await xorrisoFind(path, 'norock')).toEqual(['meta-data', 'network-config', 'user-data']);
    expect(await xorrisoFind(path, 'ecma119')).toEqual(['META_DATA', 'NETWORK_CONFIG', 'USER_DATA']);
    const report = await run('xorriso', ['-indev', path, '-pvd_info']);
    expect(report.stdout).toMatch(/Volume Id\s*:\s*cidata/);
  });

  it('osirrox extracts identical bytes', async () => {
    const path = await save('nocloud-x.iso', buildIso(NOCLOUD, { volumeId: 'cidata' }));
    const out = join(work, 'nocloud-extract');
    await osirroxExtract(path, out);
    expect(await filesUnder(out)).toEqual(['meta-data', 'network-config', 'user-data']);
    for (const f of NOCLOUD) expect(sha256(await readFile(join(out, f.path))), f.path).toBe(sha256(f.data));
  });

  it('blkid sees an iso9660 filesystem labelled cidata (how cloud-init finds the seed)', async (ctx) => {
    const path = await save('nocloud-b.iso', buildIso(NOCLOUD, { volumeId: 'cidata' }));
    const r = await run('blkid', ['-p', '-o', 'export', path]).catch(() => null);
    if (!r || r.code === null || r.stdout === '') {
      ctx.skip();
      return;
    }
    expect(r.stdout).toMatch(/^TYPE=iso9660$/m);
    expect(r.stdout).toMatch(/^LABEL=cidata$/m);
  });

  it('is deterministic: same bytes for the same input in any order, pinned by a golden hash', () => {
    const a = buildIso(NOCLOUD, { volumeId: 'cidata' });
    const b = buildIso([...NOCLOUD].reverse(), { volumeId: 'cidata', date: new Date(0) });
    expect(a.equals(b)).toBe(true);
    expect(sha256(a)).toBe(NOCLOUD_GOLDEN);
    expect(a.length).toBe(NOCLOUD_SIZE);
    const later = buildIso(NOCLOUD, { volumeId: 'cidata', date: new Date('2024-05-06T07:08:09Z') });
    expect(later.equals(a)).toBe(false);
    expect(later.length).toBe(a.length);
  });
});

describe('namespaces', () => {
  it.each([
    [true, true, 'rock-ridge', ['meta-data', 'network-config', 'user-data']],
    [true, false, 'rock-ridge', ['meta-data', 'network-config', 'user-data']],
    [false, true, 'joliet', ['meta-data', 'network-config', 'user-data']],
    [false, false, 'iso9660', ['META_DATA', 'NETWORK_CONFIG', 'USER_DATA']],
  ] as const)('rockRidge %s, joliet %s: names from %s', async (rockRidge, joliet, source, names) => {
    const image = buildIso(NOCLOUD, { volumeId: 'cidata', rockRidge, joliet });
    const iso = await open(image);
    expect(iso.nameSource).toBe(source);
    expect(iso.hasRockRidge).toBe(rockRidge);
    expect(iso.hasJoliet).toBe(joliet);
    const list = (await iso.list('/')) ?? [];
    expect(list.map((e) => e.name)).toEqual(names);
    for (const [i, e] of list.entries()) {
      const want = NOCLOUD.find((f) => f.path.toUpperCase().replace('-', '_') === names[i]?.toUpperCase().replace('-', '_'));
      expect(await iso.readFile(e, { maxBytes: 4096 })).toEqual({ ok: true, data: want?.data });
    }
    const path = await save(`ns-${rockRidge}-${joliet}.iso`, image);
    expect(await xorrisoFind(path, 'any')).toEqual([...names]);
    await iso.close();
  });

  it('Rock Ridge records carry PX modes and TF times from opts.date', async () => {
    const date = new Date('2024-05-06T07:08:09Z');
    const iso = await open(buildIso([...NOCLOUD, { path: 'scripts/run.sh', data: Buffer.from('#!/bin/sh\n') }], { volumeId: 'cidata', date }));
    const file = await iso.stat('/user-data');
    expect(file?.mode).toBe(0o100444);
    expect(file?.mtime?.toISOString()).toBe(date.toISOString());
    expect((await iso.stat('/scripts'))?.mode).toBe(0o040555);
    expect(iso.creationDate?.toISOString()).toBe(date.toISOString());
    await iso.close();
  });
});

describe('trees, sizes and names', () => {
  const files: BuildIsoFile[] = [
    { path: '/boot/grub2/grub.cfg', data: Buffer.from('menuentry x {}\n') },
    { path: 'boot/kernel', data: seededBytes(100_000, 51) },
    { path: 'empty', data: Buffer.alloc(0) },
    { path: 'exact-2048.bin', data: seededBytes(2048, 52) },
    { path: 'Mixed Case.TXT', data: Buffer.from('mixed') },
    { path: 'a-b', data: Buffer.from('dash') },
    { path: 'a_b', data: Buffer.from('underscore') },
    { path: 'A-B', data: Buffer.from('upper') },
    { path: 'ünïcödé', data: Buffer.from('unicode') },
    ...Array.from({ length: 300 }, (_, i) => ({ path: `many/entry-number-${String(i).padStart(3, '0')}.yaml`, data: Buffer.from(`n: ${i}\n`) })),
  ];

  it('round-trips nested directories, empty files, a multi-sector directory and clashing ISO names', async () => {
    const image = buildIso(files, { volumeId: 'TREE' });
    const iso = await open(image);
    const byPath = new Map((await walk(iso)).map((e) => [e.path, e]));
    for (const f of files) {
      const p = `/${f.path.replace(/^\//, '')}`;
      expect(byPath.get(p)?.size, p).toBe(f.data.length);
      expect(await iso.readFile(p, { maxBytes: 200_000 }), p).toEqual({ ok: true, data: f.data });
    }
    expect(byPath.get('/many')?.size).toBeGreaterThan(2048);
    expect((await iso.list('/many'))?.length).toBe(300);
    await iso.close();

    // The plain ISO9660 identifiers are unique even where the exact names collapse (a-b, a_b, A-B).
    const plain = await open(buildIso(files, { volumeId: 'TREE', rockRidge: false, joliet: false }));
    const top = ((await plain.list('/')) ?? []).map((e) => e.name);
    expect(new Set(top).size).toBe(top.length);
    expect(top.filter((n) => n.startsWith('A_B'))).toHaveLength(3);
    expect(plain.warnings).toEqual([]);
    expect((await walk(plain)).length).toBe((await walk(await open(image))).length);
  });

  it('xorriso and osirrox agree on every name and byte of the tree', async () => {
    const path = await save('tree.iso', buildIso(files, { volumeId: 'TREE' }));
    const wantFiles = files.map((f) => f.path.replace(/^\//, '')).sort();
    const dirs = ['boot', 'boot/grub2', 'many'];
    expect(await xorrisoFind(path, 'any')).toEqual([...wantFiles, ...dirs].sort());
    expect(await xorrisoFind(path, 'norock')).toEqual([...wantFiles, ...dirs].sort());
    expect((await xorrisoFind(path, 'ecma119')).length).toBe(wantFiles.length + dirs.length);
    const out = join(work, 'tree-extract');
    await osirroxExtract(path, out);
    expect(await filesUnder(out)).toEqual(wantFiles);
    for (const f of files) expect(sha256(await readFile(join(out, f.path))), f.path).toBe(sha256(f.data));
  });

  it('lays out records that never straddle a sector', () => {
    const image = buildIso(files, { volumeId: 'TREE', joliet: false });
    const recs = raw.records(image, raw.path(image, 'MANY'));
    expect(recs).toHaveLength(302);
    for (const r of recs) expect(Math.floor(r.at / 2048), r.id).toBe(Math.floor((r.at + r.length - 1) / 2048));
  });

  it.each([16, 17])('path tables (volume descriptor in sector %i) match the directory records, L and M alike', (sector) => {
    const image = buildIso(files, { volumeId: 'TREE' });
    const l = raw.pathTable(image, sector, false);
    expect(raw.pathTable(image, sector, true)).toEqual(l);
    expect(l).toHaveLength(4); // root, boot, many, boot/grub2: breadth first
    expect(l[0]).toMatchObject({ id: '\0', parent: 1, lba: raw.rootRecord(image, sector).lba });
    for (const [i, e] of l.entries()) {
      if (i === 0) continue;
      expect(e.parent).toBeLessThanOrEqual(i);
      const parent = l[e.parent - 1];
      if (!parent) throw new Error('bad parent');
      const dir = raw.records(image, { ...raw.rootRecord(image, sector), lba: parent.lba, size: 2048 }).find((r) => r.id === e.id);
      expect(dir?.lba, e.id).toBe(e.lba);
      expect((dir?.flags ?? 0) & 2).toBe(2);
    }
    // Breadth first: a directory's level never decreases along the table.
    const level = (e: raw.PathTableEntry): number => (e === l[0] ? 0 : 1 + level(l[e.parent - 1] ?? e));
    const levels = l.map(level);
    expect([...levels].sort()).toEqual(levels);
  });

  it('an image with only empty files still points them inside the volume', async () => {
    const image = buildIso([{ path: 'a', data: Buffer.alloc(0) }], { volumeId: 'E' });
    const iso = await open(image);
    expect(await iso.readFile('/a', { maxBytes: 0 })).toEqual({ ok: true, data: Buffer.alloc(0) });
    expect(raw.path(image, 'A').lba * 2048).toBeLessThan(image.length);
    await iso.close();
  });
});

describe('input a caller must fix throws RangeError', () => {
  const one = [{ path: 'a', data: Buffer.from('a') }];
  it.each([
    ['duplicate path', [...one, { path: '/a', data: Buffer.from('b') }], {}, /given twice/],
    ['file and directory', [...one, { path: 'a/b', data: Buffer.from('b') }], {}, /both a file and a directory/],
    ['dot-dot segment', [{ path: 'x/../a', data: Buffer.from('a') }], {}, /invalid segment/],
    ['empty path', [{ path: '', data: Buffer.from('a') }], {}, /non-empty/],
    ['root path', [{ path: '/', data: Buffer.from('a') }], {}, /names the root/],
    ['Joliet-forbidden character', [{ path: 'a:b', data: Buffer.from('a') }], {}, /Joliet does not allow/],
    ['Joliet name over 64 characters', [{ path: 'n'.repeat(65), data: Buffer.from('a') }], {}, /longer than 64/],
    ['Rock Ridge name too long for a record', [{ path: 'n'.repeat(200), data: Buffer.from('a') }], { joliet: false }, /too long for one directory record/],
    ['volume id too long', one, { volumeId: 'v'.repeat(33) }, /volumeId/],
    ['volume id empty', one, { volumeId: '' }, /volumeId/],
    ['bad date', one, { date: new Date(Number.NaN) }, /date/],
  ] as const)('%s', (_what, input, opts, message) => {
    expect(() => buildIso(input, { volumeId: 'cidata', ...opts })).toThrow(RangeError);
    expect(() => buildIso(input, { volumeId: 'cidata', ...opts })).toThrow(message);
  });

  it('names over 64 characters are fine without Joliet', async () => {
    const name = 'n'.repeat(100);
    const iso = await open(buildIso([{ path: name, data: Buffer.from('x') }], { volumeId: 'L', joliet: false }));
    expect((await iso.list('/'))?.map((e) => e.name)).toEqual([name]);
  });
});
