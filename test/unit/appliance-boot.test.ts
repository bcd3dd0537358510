import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../server/artifacts/blob-store.js';
import { ingestApplianceIso } from '../../server/artifacts/ingest.js';
import { chooseFirstStage } from '../../server/dhcp/first-stage.js';
import { classify } from '../../server/dhcp/classify.js';
import { decodePacket } from '../../server/dhcp/packet.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';
import { edk2HttpDiscover } from '../fixtures/dhcp/synthetic.js';

const GRUB = 'set args="cdroot root=live:CDLABEL=COS_LIVE rd.live.dir=/ net.ifnames=1 rd.immucore.sysrootwait=600"\nmenuentry "Palette eXtended Kubernetes Edge Installer" {\n  linux /boot/kernel $args nodepair.enable\n  initrd /boot/initrd\n}\n';

let f: HttpFixture | null = null;
afterEach(async () => {
  await f?.cleanup();
  f = null;
});

async function withAppliance(method: string) {
  f = await buildHttpFixture({ profiles: { pal: { appliance: 'palette-1', method } }, boot: { defaultProfile: 'pal' } });
  const tree = join(f.dir, 'tree');
  mkdirSync(join(tree, 'boot', 'grub2'), { recursive: true });
  writeFileSync(join(tree, 'boot', 'kernel'), Buffer.alloc(100_000, 0x4b));
  writeFileSync(join(tree, 'boot', 'initrd'), Buffer.alloc(50_000, 0x49));
  writeFileSync(join(tree, 'rootfs.squashfs'), Buffer.alloc(400_000, 0x53));
  writeFileSync(join(tree, 'boot', 'grub2', 'grub.cfg'), GRUB);
  const iso = join(f.dir, 'palette.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'COS_LIVE', '-R', '-J', tree], { stdio: 'ignore' });
  const r = await ingestApplianceIso(f.store.artifacts, new BlobStore(f.artifactsRoot), { path: iso, source: iso, name: 'palette-1' });
  if (!r.ok) throw new Error(r.reason);
  const m = await f.addMachine({ name: 'cp-1', macs: ['52:54:00:ab:cd:ef'], disks: [{ path: '/dev/disk/by-id/nvme-os', role: 'os' }] });
  return { m, iso: readFileSync(iso) };
}

describe('appliance profiles', () => {
  it('netboot: kernel and initrd from the ISO, its installer arguments, root=live: the squashfs, and config_url', async () => {
    const { m } = await withAppliance('netboot');
    const script = (await f!.app.inject({ url: f!.bootPath(m, '/script.ipxe') })).body;
    const base = f!.urls.base(m);
    const kernel = script.split('\n').find((l) => l.startsWith('kernel '))!;
    expect(kernel).toContain(`${base}/appliance/palette-1/kernel `);
    expect(kernel).toContain(`root=live:${base}/appliance/palette-1/rootfs.squashfs`);
    expect(kernel).toContain(`config_url=${base}/user-data`);
    expect(kernel).toContain('nodepair.enable');
    expect(kernel).toContain('rd.immucore.sysrootwait=600');
    expect(kernel).not.toContain('CDLABEL');
    expect(kernel).not.toContain('cdroot');
    expect(script).toContain(`initrd --name initrd0 ${base}/appliance/palette-1/initrd`);
    const k = await f!.app.inject({ url: f!.bootPath(m, '/appliance/palette-1/kernel') });
    expect(k.statusCode).toBe(200);
    expect(k.rawPayload.equals(Buffer.alloc(100_000, 0x4b))).toBe(true);
    expect((await f!.app.inject({ url: f!.bootPath(m, '/appliance/palette-1/nope') })).statusCode).toBe(404);
    expect((await f!.app.inject({ url: f!.bootPath(m, '/appliance/other/kernel') })).statusCode).toBe(404);
  });

  it('sanboot: the script SAN-boots the whole ISO, served with Range under its boot media type', async () => {
    const { m, iso } = await withAppliance('sanboot');
    const script = (await f!.app.inject({ url: f!.bootPath(m, '/script.ipxe') })).body;
    const url = `${f!.urls.base(m)}/appliance/palette-1/appliance.iso`;
    expect(script).toContain(`sanboot --no-describe ${url} || goto retry`);
    const path = f!.bootPath(m, '/appliance/palette-1/appliance.iso');
    const head = await f!.app.inject({ method: 'HEAD', url: path });
    expect(head.headers['content-type']).toBe('application/vnd.efi-iso');
    expect(head.headers['content-length']).toBe(String(iso.length));
    const parts: Buffer[] = [];
    for (let off = 0; off < iso.length; off += 65_536) {
      const r = await f!.app.inject({ url: path, headers: { range: `bytes=${off}-${Math.min(off + 65_535, iso.length - 1)}` } });
      expect(r.statusCode).toBe(206);
      parts.push(r.rawPayload);
    }
    expect(Buffer.concat(parts).equals(iso)).toBe(true);
  });

  it('http-iso: UEFI HTTP Boot clients are handed the ISO URL itself', async () => {
    const { m } = await withAppliance('http-iso');
    const d = decodePacket(edk2HttpDiscover());
    if (!d.ok) throw new Error(d.reason);
    const stage = chooseFirstStage(classify(d.packet)!, m, f!.urls, f!.cfg.boot, f!.cfg.profiles.pal!);
    expect(stage).toEqual({ kind: 'http', url: `${f!.urls.base(m)}/appliance/palette-1/appliance.iso`, binary: 'appliance.iso' });
  });

  it('virtual-media: a network boot falls through to the BMC CD', async () => {
    const { m } = await withAppliance('virtual-media');
    const script = (await f!.app.inject({ url: f!.bootPath(m, '/script.ipxe') })).body;
    expect(script).toContain('boots from BMC virtual media');
    expect(script).toContain('exit 1');
  });

  it('reports an appliance that was never ingested instead of booting something else', async () => {
    f = await buildHttpFixture({ profiles: { pal: { appliance: 'missing', method: 'netboot' } }, boot: { defaultProfile: 'pal' } });
    const m = await f.addMachine({ name: 'cp-2', macs: ['52:54:00:ab:cd:01'] });
    const script = (await f.app.inject({ url: f.bootPath(m, '/script.ipxe') })).body;
    expect(script).toContain("appliance 'missing' is not ingested");
    expect(script).not.toContain('kernel ');
  });
});

describe('file bodies over a real socket', () => {
  it('sends exact bytes for many concurrent ranges, with chunk buffers reused across responses', async () => {
    f = await buildHttpFixture();
    const data = Buffer.alloc(4 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    f.artifact('big.bin', data);
    const m = await f.addMachine({ name: 'r-1', macs: ['52:54:00:ab:cd:02'] });
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (f.app.server.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}${f.bootPath(m, '/files/big.bin')}`;
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const ranges = Array.from({ length: 64 }, () => {
      const start = rand(data.length - 1);
      return [start, Math.min(data.length - 1, start + 1024 * 1024 + rand(600_000))] as const;
    });
    // Several rounds, so later responses draw buffers that earlier ones gave back.
    for (let round = 0; round < 3; round++) {
      const bodies = await Promise.all(
        ranges.map(async ([a, b]) => {
          const r = await fetch(url, { headers: { range: `bytes=${a}-${b}` } });
          expect(r.status).toBe(206);
          return Buffer.from(await r.arrayBuffer());
        }),
      );
      bodies.forEach((body, i) => expect(body.equals(data.subarray(ranges[i]![0], ranges[i]![1] + 1)), `round ${round} range ${i}`).toBe(true));
    }
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(whole.equals(data)).toBe(true);
  }, 60_000);
});
