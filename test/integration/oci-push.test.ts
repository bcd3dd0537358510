// Pack-bundle push against a real registry: Debian's docker-registry (distribution 2.8) on
// loopback. The archive is an OCI image layout made with tar; the manifest and every blob are read
// back and their digests checked.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushOciArchive } from '../../server/packs/registry-push.js';

const REGISTRY = '/usr/bin/docker-registry';
const have = existsSync(REGISTRY);
if (!have && process.env.CI) throw new Error('docker-registry is missing: run scripts/install-deps.sh test');

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe.skipIf(!have)('OCI push to docker-registry', () => {
  let dir: string;
  let proc: ChildProcess;
  let registry: string;
  let archive: string;
  const blobs = new Map<string, Buffer>();
  let manifestDigest: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-oci-'));
    const port = await freePort();
    registry = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'config.yml'),
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'store')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    proc = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const ok = await fetch(`${registry}/v2/`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (i > 100) throw new Error('docker-registry did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // An OCI image layout: config, two layers (one larger than a chunk), a manifest, index.json.
    const layout = join(dir, 'layout');
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    const put = (b: Buffer) => {
      const d = sha(b);
      blobs.set(d, b);
      writeFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), b);
      return d;
    };
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const l1 = randomBytes(3 * 1024 * 1024 + 17);
    const l2 = randomBytes(70_000);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
        layers: [l1, l2].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(l), size: l.length })),
      }),
    );
    manifestDigest = put(manifest);
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MANIFEST, digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': '1.0.0' } }] }),
    );
    archive = join(dir, 'pack.tar');
    execFileSync('tar', ['-cf', archive, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  }, 60_000);

  afterAll(async () => {
    if (proc !== undefined && proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads every blob in chunks and the manifest, which read back with the same digests', async () => {
    const r = await pushOciArchive(archive, { registry, repository: 'packs/demo', chunkBytes: 1024 * 1024 }, pino({ level: 'silent' }));
    expect(r.ok, r.ok ? '' : r.error).toBe(true);
    if (!r.ok) return;
    expect(r.manifests).toHaveLength(1);
    expect(r.manifests[0]!.blobs.map((b) => b.action)).toEqual(['uploaded', 'uploaded', 'uploaded']);
    const m = await fetch(`${registry}/v2/packs/demo/manifests/1.0.0`, { headers: { accept: MANIFEST } });
    expect(m.status).toBe(200);
    const body = Buffer.from(await m.arrayBuffer());
    expect(sha(body)).toBe(manifestDigest);
    expect(m.headers.get('docker-content-digest')).toBe(manifestDigest);
    const parsed = JSON.parse(body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
      const b = await fetch(`${registry}/v2/packs/demo/blobs/${d}`);
      expect(b.status).toBe(200);
      const data = Buffer.from(await b.arrayBuffer());
      expect(sha(data)).toBe(d);
      expect(data.equals(blobs.get(d)!)).toBe(true);
    }
  });

  it('skips blobs the repository has, and mounts them into another repository', async () => {
    const again = await pushOciArchive(archive, { registry, repository: 'packs/demo' }, pino({ level: 'silent' }));
    expect(again.ok && again.manifests[0]!.blobs.map((b) => b.action)).toEqual(['present', 'present', 'present']);
    const mounted = await pushOciArchive(archive, { registry, repository: 'packs/copy', mountFrom: 'packs/demo' }, pino({ level: 'silent' }));
    expect(mounted.ok && mounted.manifests[0]!.blobs.map((b) => b.action)).toEqual(['mounted', 'mounted', 'mounted']);
    const m = await fetch(`${registry}/v2/packs/copy/manifests/1.0.0`, { headers: { accept: MANIFEST } });
    expect(sha(Buffer.from(await m.arrayBuffer()))).toBe(manifestDigest);
  });

  it('refuses an archive that is not an OCI layout', async () => {
    const bad = join(dir, 'bad.tar');
    writeFileSync(join(dir, 'x.txt'), 'x');
    execFileSync('tar', ['-cf', bad, '-C', dir, 'x.txt']);
    const r = await pushOciArchive(bad, { registry, repository: 'packs/bad' }, pino({ level: 'silent' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/not an OCI image layout/);
  });
});
