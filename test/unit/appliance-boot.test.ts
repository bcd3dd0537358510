import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../server/artifacts/blob-store.js';
import { ingestApplianceIso } from '../../server/artifacts/ingest.js';
import { chooseFirstStage } from '../../server/dhcp/first-stage.js';
import { planBoot } from '../../server/boot/boot-plan.js';
import { openIsoBuffer } from '../../server/iso9660/reader.js';
import { classify } from '../../server/dhcp/classify.js';
import { decodePacket } from '../../server/dhcp/packet.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';
import { edk2HttpDiscover } from '../fixtures/dhcp/synthetic.js';

const GRUB = 'set args="cdroot root=live:CDLABEL=COS_LIVE rd.live.dir=/ net.ifnames=1 rd.immucore.sysrootwait=600"\nmenuentry "Palette eXtended Kubernetes Edge Installer" {\n  linux /boot/kernel $args nodepair.enable\n  initrd /boot/initrd\n}\n';

const CONFIG = '#cloud-config\ninstall:\n  auto: false\n';
const ISOLINUX = 'DEFAULT live\nLABEL live\n  KERNEL /boot/kernel\n  APPEND initrd=/boot/initrd cdroot\nLABEL memtest\n  KERNEL /boot/memtest\n';

let f: HttpFixture | null = null;

async function waitFor(ok: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await ok()); i++) await new Promise((r) => setTimeout(r, 25));
  expect(await ok()).toBe(true);
}
afterEach(async () => {
  await f?.cleanup();
  f = null;
});

async function withAppliance(method: string, config: Record<string, unknown> = {}) {
  f = await buildHttpFixture({ profiles: { pal: { appliance: 'palette-1', method } }, boot: { defaultProfile: 'pal' }, ...config });
  const tree = join(f.dir, 'tree');
  mkdirSync(join(tree, 'boot', 'grub2'), { recursive: true });
  writeFileSync(join(tree, 'boot', 'kernel'), Buffer.alloc(100_000, 0x4b));
  writeFileSync(join(tree, 'boot', 'initrd'), Buffer.alloc(50_000, 0x49));
  writeFileSync(join(tree, 'rootfs.squashfs'), Buffer.alloc(400_000, 0x53));
  writeFileSync(join(tree, 'boot', 'grub2', 'grub.cfg'), GRUB);
  writeFileSync(join(tree, 'config.yaml'), CONFIG);
  mkdirSync(join(tree, 'isolinux'));
  writeFileSync(join(tree, 'isolinux', 'isolinux.cfg'), ISOLINUX);
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

  it('sanboot: the script SAN-boots the machine ISO, served with Range under its boot media type', async () => {
    const { m, iso } = await withAppliance('sanboot');
    const script = (await f!.app.inject({ url: f!.bootPath(m, '/script.ipxe') })).body;
    const url = f!.urls.machineIso(m, 'palette-1');
    expect(url).toBe(`${f!.urls.base(m)}/appliance/palette-1/machine.iso`);
    expect(script).toContain(`sanboot --no-describe ${url} || goto retry`);
    const path = f!.bootPath(m, '/appliance/palette-1/machine.iso');
    const head = await f!.app.inject({ method: 'HEAD', url: path });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('application/vnd.efi-iso');
    expect(head.headers['accept-ranges']).toBe('bytes');
    const size = Number(head.headers['content-length']);
    expect(size % 2048).toBe(0);
    expect(size).toBeGreaterThan(iso.length);
    const parts: Buffer[] = [];
    for (let off = 0; off < size; off += 65_536) {
      const r = await f!.app.inject({ url: path, headers: { range: `bytes=${off}-${Math.min(off + 65_535, size - 1)}` } });
      expect(r.statusCode).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${off}-${Math.min(off + 65_535, size - 1)}/${size}`);
      parts.push(r.rawPayload);
    }
    // Hundreds of range reads after byte 0 make one timeline entry per boot.
    const reads = (await f!.store.events.listForMachine(m.id)).filter((e) => e.kind === 'appliance.read');
    expect(reads.map((e) => e.message)).toEqual([`palette-1/machine.iso: range reads started (bytes 65536-131071 of ${size})`]);
    const whole = await f!.app.inject({ url: path });
    expect(whole.statusCode).toBe(200);
    expect(whole.rawPayload.equals(Buffer.concat(parts))).toBe(true);

    // Read back with the ISO reader: the machine's user-data and config_url, everything else untouched.
    const r = await openIsoBuffer(whole.rawPayload);
    if (!r.ok) throw new Error(r.reason);
    const read = async (p: string) => {
      const x = await r.iso.readFile(p, { maxBytes: 1 << 20 });
      if (!x.ok) throw new Error(x.reason);
      return x.data;
    };
    const userData = (await f!.app.inject({ url: f!.bootPath(m, '/user-data') })).body;
    expect((await read('/config.yaml')).toString()).toBe(userData);
    const arg = `config_url=${f!.urls.userData(m)}`;
    expect((await read('/boot/grub2/grub.cfg')).toString()).toBe(GRUB.replace('nodepair.enable', `nodepair.enable ${arg}`));
    expect((await read('/isolinux/isolinux.cfg')).toString()).toBe(ISOLINUX.replace('cdroot', `cdroot ${arg}`));
    expect((await read('/boot/kernel')).equals(Buffer.alloc(100_000, 0x4b))).toBe(true);
    expect((await read('/rootfs.squashfs')).equals(Buffer.alloc(400_000, 0x53))).toBe(true);
    await r.iso.close();

    // The pristine ISO stays served as it is (benchmarks, BMCs with a separate cidata slot).
    const pristine = await f!.app.inject({ url: f!.bootPath(m, '/appliance/palette-1/appliance.iso') });
    expect(pristine.rawPayload.equals(iso)).toBe(true);
  });

  it('machine.iso: validators follow the machine config, If-Range and If-None-Match as for files', async () => {
    const { m } = await withAppliance('sanboot');
    const path = f!.bootPath(m, '/appliance/palette-1/machine.iso');
    const first = await f!.app.inject({ method: 'HEAD', url: path });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"m-[0-9a-f]{32}"$/);
    expect((await f!.app.inject({ method: 'HEAD', url: path })).headers.etag).toBe(etag);
    expect((await f!.app.inject({ url: path, headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    const ranged = await f!.app.inject({ url: path, headers: { range: 'bytes=32768-32799', 'if-range': etag } });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.rawPayload.subarray(1, 6).toString()).toBe('CD001');
    expect((await f!.app.inject({ url: path, headers: { range: 'bytes=0-9', 'if-range': '"stale"' } })).statusCode).toBe(200);
    const size = Number(first.headers['content-length']);
    const beyond = await f!.app.inject({ url: path, headers: { range: `bytes=${size}-` } });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${size}`);

    await f!.store.machines.update(m.id, { network: { hostname: 'renamed-cp-1' } } as never);
    const after = await f!.app.inject({ method: 'HEAD', url: path });
    expect(after.headers.etag).not.toBe(etag);
    const stale = await f!.app.inject({ url: path, headers: { range: 'bytes=0-9', 'if-range': etag } });
    expect(stale.statusCode).toBe(200);
    const whole = await openIsoBuffer(stale.rawPayload);
    if (!whole.ok) throw new Error(whole.reason);
    const cfg = await whole.iso.readFile('/config.yaml', { maxBytes: 1 << 20 });
    expect(cfg.ok && cfg.data.toString()).toContain('renamed-cp-1');
    await whole.iso.close();
    expect((await f!.app.inject({ url: f!.bootPath(m, '/appliance/other/machine.iso') })).statusCode).toBe(404);
    expect((await f!.app.inject({ url: `/boot/${m.id}/bad-token/appliance/palette-1/machine.iso` })).statusCode).toBe(404);
  });

  it('http-iso: UEFI HTTP Boot gets the machine ISO until installed, then the iPXE binary whose script boots the disk', async () => {
    const { m } = await withAppliance('http-iso');
    const d = decodePacket(edk2HttpDiscover());
    if (!d.ok) throw new Error(d.reason);
    const client = classify(d.packet)!;
    const stageFor = async () => {
      const now = (await f!.store.machines.get(m.id))!;
      const plan = planBoot(now, f!.cfg);
      return chooseFirstStage(client, now, f!.urls, f!.cfg.boot, plan.kind === 'netboot' ? plan.profile : null);
    };
    expect(await stageFor()).toEqual({ kind: 'http', url: `${f!.urls.base(m)}/appliance/palette-1/machine.iso`, binary: 'machine.iso' });

    // HEAD (firmware sizing its RAM disk) changes nothing; the GET is the installer boot.
    await f!.app.inject({ method: 'HEAD', url: f!.bootPath(m, '/appliance/palette-1/machine.iso') });
    expect((await f!.store.machines.get(m.id))!.state).not.toBe('booting-installer');
    const got = await f!.app.inject({ url: f!.bootPath(m, '/appliance/palette-1/machine.iso') });
    expect(got.statusCode).toBe(200);
    expect((await f!.store.machines.get(m.id))!.state).toBe('booting-installer');
    expect((await f!.app.inject({ method: 'POST', url: f!.bootPath(m, '/callback/install-start') })).statusCode).toBe(200);
    expect((await f!.app.inject({ method: 'POST', url: f!.bootPath(m, '/callback/install-done') })).statusCode).toBe(200);
    expect((await f!.store.machines.get(m.id))!.state).toBe('installed');

    const second = await stageFor();
    expect(second).toEqual({ kind: 'http', url: f!.urls.firstStage(m, f!.cfg.boot.uefiBinary), binary: f!.cfg.boot.uefiBinary });
    const script = (await f!.app.inject({ url: f!.bootPath(m, '/script.ipxe') })).body;
    expect(script).toContain('exit 1');
    expect(script).not.toContain('machine.iso');
    // Fetching the ISO again (a stale boot entry) never moves an installed machine back.
    await f!.app.inject({ url: f!.bootPath(m, '/appliance/palette-1/machine.iso') });
    expect((await f!.store.machines.get(m.id))!.state).toBe('installed');
  });

  it('http-iso: an ISO that keeps booting without starting the install is a boot loop', async () => {
    const { m } = await withAppliance('http-iso', { lifecycle: { maxInstallerBoots: 2 } });
    await f!.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(f!.app.server.address() as { port: number }).port}${f!.bootPath(m, '/appliance/palette-1/machine.iso')}`;
    const fetched = async () => (await f!.store.events.listForMachine(m.id)).filter((e) => e.kind === 'appliance.fetched' && e.detail?.status === 200).length;
    for (let boot = 1; boot <= 2; boot++) {
      const r = await fetch(url);
      expect(r.status).toBe(200);
      await r.arrayBuffer();
      await waitFor(async () => (await fetched()) === boot);
      // Range reads (a BMC, a retry) are not boots.
      expect((await fetch(url, { headers: { range: 'bytes=0-2047' } })).status).toBe(206);
    }
    expect((await f!.store.machines.get(m.id))!.state).toBe('booting-installer');
    expect((await fetch(url)).status).toBe(404);
    const after = (await f!.store.machines.get(m.id))!;
    expect(after.state).toBe('failed');
    expect(after.stateReason).toMatch(/boot loop: the installer ISO booted 2 times/);
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

  it('sends a remastered machine ISO through the same pump, ranges crossing patched and appended segments', async () => {
    const { m } = await withAppliance('sanboot');
    const path = f!.bootPath(m, '/appliance/palette-1/machine.iso');
    const expected = (await f!.app.inject({ url: path })).rawPayload;
    await f!.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (f!.app.server.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}${path}`;
    let seed = 11;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    // Start near the descriptors, the directories and the appended files, where segments meet.
    const anchors = [32_768, 36_864, expected.length - 6000, 0];
    const ranges = Array.from({ length: 40 }, (_, i) => {
      const start = Math.max(0, anchors[i % anchors.length]! - rand(5000));
      return [start, Math.min(expected.length - 1, start + rand(1_200_000))] as const;
    });
    const bodies = await Promise.all(
      ranges.map(async ([a, b]) => {
        const r = await fetch(url, { headers: { range: `bytes=${a}-${b}` } });
        expect(r.status).toBe(206);
        return Buffer.from(await r.arrayBuffer());
      }),
    );
    bodies.forEach((body, i) => expect(body.equals(expected.subarray(ranges[i]![0], ranges[i]![1] + 1)), `range ${ranges[i]}`).toBe(true));
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(expected)).toBe(true);
  }, 60_000);
});
