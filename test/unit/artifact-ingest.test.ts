import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore } from '../../server/artifacts/blob-store.js';
import { downloadResumable } from '../../server/artifacts/download.js';
import { netbootArgsFrom, parseGrubConfig } from '../../server/artifacts/grub-config.js';
import { ingestApplianceIso } from '../../server/artifacts/ingest.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import type { Store } from '../../server/store/types.js';

const GRUB = `set timeout=5
set default=0
set baseargs="cdroot root=live:CDLABEL=COS_LIVE rd.live.dir=/ rd.live.squashimg=rootfs.squashfs net.ifnames=1 rd.cos.disable selinux=0 rd.immucore.sysrootwait=600"
menuentry "Palette eXtended Kubernetes Edge Installer" --class os {
  linux /boot/kernel $baseargs console=ttyS0,115200n8 nodepair.enable
  initrd /boot/initrd
}
menuentry 'Palette Edge Interactive Installer' {
  linux /boot/kernel \${baseargs} nodepair.enable interactive-install
  initrd /boot/initrd
}
`;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let work: string;
const files = { kernel: Buffer.alloc(300_000, 1), initrd: Buffer.alloc(120_000, 2), squashfs: Buffer.alloc(2_500_000, 3) };

function buildIso(name: string, opts: { grub?: boolean; layout?: boolean } = {}): string {
  const tree = join(work, `${name}-tree`);
  mkdirSync(join(tree, 'boot', 'grub2'), { recursive: true });
  if (opts.layout !== false) {
    writeFileSync(join(tree, 'boot', 'kernel'), files.kernel);
    writeFileSync(join(tree, 'boot', 'initrd'), files.initrd);
    writeFileSync(join(tree, 'rootfs.squashfs'), files.squashfs);
  } else {
    writeFileSync(join(tree, 'README'), 'not an appliance');
  }
  writeFileSync(join(tree, 'config.yaml'), '#cloud-config\n# Palette management appliance\n');
  if (opts.grub !== false) writeFileSync(join(tree, 'boot', 'grub2', 'grub.cfg'), GRUB);
  const iso = join(work, `${name}.iso`);
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'COS_LIVE', '-R', '-J', tree], { stdio: 'ignore' });
  return iso;
}

describe('GRUB config', () => {
  it('expands variables and carries over the automatic installer entry minus CD-only arguments', () => {
    const entries = parseGrubConfig(GRUB);
    expect(entries.map((e) => e.title)).toEqual(['Palette eXtended Kubernetes Edge Installer', 'Palette Edge Interactive Installer']);
    expect(entries[0]!.kernel).toBe('/boot/kernel');
    expect(entries[0]!.initrds).toEqual(['/boot/initrd']);
    expect(entries[1]!.args).toContain('interactive-install');
    expect(netbootArgsFrom(entries)).toEqual(['net.ifnames=1', 'rd.cos.disable', 'selinux=0', 'rd.immucore.sysrootwait=600', 'nodepair.enable']);
  });
});

describe.skipIf(!existsSync('/usr/bin/xorriso') && !process.env.CI)('appliance ISO ingest', () => {
  let store: Store;
  let root: string;
  const blobs = () => new BlobStore(root);
  const blobCount = () => (existsSync(join(root, 'blobs', 'sha256')) ? readdirSync(join(root, 'blobs', 'sha256')).length : 0);

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'rb-ingest-'));
    root = join(work, 'artifacts');
    store = openSqliteStore(join(work, 'rackboot.db'));
  });
  afterAll(async () => {
    await store.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('stores the ISO and its kernel, initrd and squashfs content-addressed and records what it found', async () => {
    const iso = buildIso('good');
    const isoBytes = readFileSync(iso);
    const phases = new Set<string>();
    const r = await ingestApplianceIso(store.artifacts, blobs(), { path: iso, source: iso, name: 'palette-test', expectedSha256: sha(isoBytes), onProgress: (p) => phases.add(p.phase) });
    if (!r.ok) throw new Error(r.reason);
    const a = r.artifact;
    expect(a.sha256).toBe(sha(isoBytes));
    expect(a.size).toBe(isoBytes.length);
    expect(a.meta.volumeId).toBe('COS_LIVE');
    expect(a.meta.flavor).toBe('palette');
    expect(a.meta.files.kernel).toEqual({ isoPath: '/boot/kernel', sha256: sha(files.kernel), size: files.kernel.length });
    expect(a.meta.files.squashfs.sha256).toBe(sha(files.squashfs));
    expect(a.meta.netbootArgs).toContain('nodepair.enable');
    expect(a.meta.listing.map((f) => f.path)).toEqual(expect.arrayContaining(['/boot/kernel', '/boot/initrd', '/rootfs.squashfs', '/config.yaml', '/boot/grub2/grub.cfg']));
    expect(readFileSync(blobs().pathOf(sha(files.initrd))).equals(files.initrd)).toBe(true);
    expect(readFileSync(blobs().pathOf(a.sha256)).equals(isoBytes)).toBe(true);
    expect(phases).toEqual(new Set(['store-iso', 'extract']));
    expect((await store.artifacts.findByName('palette-test'))?.id).toBe(a.id);
    // The same image again is recognised, not stored twice.
    const again = await ingestApplianceIso(store.artifacts, blobs(), { path: iso, source: iso });
    expect(again.ok && again.reused).toBe(true);
  });

  it('rejects bad inputs with a clear code and leaves the store as it was', async () => {
    const before = { blobs: blobCount(), rows: (await store.artifacts.list()).length };
    const notIso = join(work, 'random.bin');
    writeFileSync(notIso, Buffer.alloc(200_000, 7));
    const truncated = buildIso('trunc');
    truncateSync(truncated, Math.floor(readFileSync(truncated).length / 2));
    const cases: Array<[string, Parameters<typeof ingestApplianceIso>[2], string]> = [
      ['not an ISO', { path: notIso, source: notIso }, 'RB_ARTIFACT_NOT_ISO'],
      ['truncated', { path: truncated, source: truncated }, 'RB_ARTIFACT_TRUNCATED'],
      ['no Kairos layout', { path: buildIso('plain', { layout: false }), source: 'x' }, 'RB_ARTIFACT_LAYOUT'],
      ['wrong checksum', { path: buildIso('sum'), source: 'x', name: 'other', expectedSha256: '0'.repeat(64) }, 'RB_ARTIFACT_CHECKSUM'],
      ['missing file', { path: join(work, 'nope.iso'), source: 'x' }, 'RB_ARTIFACT_IO'],
      ['name taken', { path: buildIso('dup'), source: 'x', name: 'palette-test' }, 'RB_ARTIFACT_NAME_TAKEN'],
    ];
    for (const [label, input, code] of cases) {
      const r = await ingestApplianceIso(store.artifacts, blobs(), input);
      expect(r.ok, label).toBe(false);
      if (!r.ok) {
        expect(r.code, label).toBe(code);
        expect(r.reason.length, label).toBeGreaterThan(5);
      }
    }
    expect(blobCount()).toBe(before.blobs);
    expect((await store.artifacts.list()).length).toBe(before.rows);
    expect(existsSync(join(root, 'tmp')) ? readdirSync(join(root, 'tmp')) : []).toEqual([]);
  });
});

describe('resumable download', () => {
  let server: Server;
  let port: number;
  const body = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7) % 251));
  let dropNext = true;
  const ranges: string[] = [];

  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-download-'));
    server = createServer((req, res) => {
      if (req.url === '/missing') {
        ranges.push('missing');
        res.writeHead(404).end();
        return;
      }
      const range = req.headers.range;
      ranges.push(range ?? 'none');
      const start = range ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0;
      res.writeHead(range ? 206 : 200, { 'content-length': body.length - start, ...(range ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
      if (dropNext) {
        // Cut the first transfer part-way, as a flaky link would.
        dropNext = false;
        res.write(body.subarray(start, start + 1_000_000), () => res.destroy());
        return;
      }
      res.end(body.subarray(start));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes an interrupted download with a Range request and ends with the exact bytes', async () => {
    const dest = join(dir, 'download.iso');
    const seen: number[] = [];
    const r = await downloadResumable(`http://127.0.0.1:${port}/appliance.iso`, dest, { retryDelayMs: 10, onProgress: (p) => seen.push(p.resumedFrom) });
    expect(r.ok).toBe(true);
    expect(sha(readFileSync(dest))).toBe(sha(body));
    expect(ranges[0]).toBe('none');
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(/bytes=(\d+)-/.exec(ranges[1]!)![1])).toBeGreaterThan(0);
    expect(seen.some((s) => s > 0)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('reports a 404 at once, without retrying', async () => {
    const before = ranges.filter((r) => r === 'missing').length;
    const r = await downloadResumable(`http://127.0.0.1:${port}/missing`, join(dir, 'x.iso'), { attempts: 3, retryDelayMs: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe('RB_DOWNLOAD_HTTP');
    expect(ranges.filter((x) => x === 'missing').length - before).toBe(1);
  });

  it('gives up with a network error after its bounded attempts', async () => {
    const r = await downloadResumable('http://127.0.0.1:1/none', join(dir, 'y.iso'), { attempts: 2, retryDelayMs: 1 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/gave up after 2 attempts/);
  });
});
