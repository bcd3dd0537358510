import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabNetns, labPrerequisiteProblems, type LabNetns } from '../lab/netns.js';
import { ProcessRegistry, waitUntil, type LabProcess } from '../lab/processes.js';
import { stripAnsi } from '../lab/qemu.js';

// The vbmc CLI in a lab namespace drives a real QEMU VM (TCG, SeaBIOS): power on through Redfish
// starts the VM, a one-time Pxe override makes it send DHCPDISCOVER on the bridge, ForceOff stops
// the process, InsertMedia of an ISO served over HTTP in the namespace shows up in QMP query-block,
// and a Cd override boots that ISO (its isolinux prints a marker on the serial console and powers
// the VM off, which Redfish then reports). The Redfish side is the real client, run in the namespace.
// The VM's persistent boot order leaves the CD out, so only the override can boot it.

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TSX = join(REPO, 'node_modules/.bin/tsx');
const ISOLINUX = ['/usr/lib/ISOLINUX/isolinux.bin', ...['ldlinux', 'poweroff', 'libcom32', 'libutil'].map((m) => `/usr/lib/syslinux/modules/bios/${m}.c32`)];
const problems = [...labPrerequisiteProblems(['ip', 'qemu-system-x86_64', 'xorriso', 'curl']), ...ISOLINUX.filter((f) => !existsSync(f)).map((f) => `missing ${f}`)];
if (problems.length > 0 && process.env.CI) throw new Error(`vbmc QEMU test prerequisites missing in CI: ${problems.join('; ')}`);

const MAC = '52:54:00:e5:00:01';
const UEFI_MAC = '52:54:00:e5:00:02';
const UUID = '6f1d2c3b-4a59-4e6f-9a0b-1c2d3e4f5a61';
const MARKER = 'VBMC-CD-BOOT-OK';

function buildBootIso(dir: string): string {
  const src = join(dir, 'iso-src/isolinux');
  mkdirSync(src, { recursive: true });
  for (const f of ISOLINUX) copyFileSync(f, join(src, f.split('/').pop()!));
  writeFileSync(join(src, 'isolinux.cfg'), `SERIAL 0 115200\nSAY ${MARKER}\nSAY powering off\nPROMPT 0\nTIMEOUT 1\nDEFAULT off\nLABEL off\n  COM32 poweroff.c32\n`);
  const iso = join(dir, 'boot.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', join(dir, 'iso-src')], { stdio: 'ignore' });
  return iso;
}

interface Ready {
  bmcs: { name: string; url: string; fingerprint256: string; systemPath: string }[];
}

describe.skipIf(problems.length > 0 && !process.env.CI)('vbmc drives a QEMU VM in a namespace (TCG)', () => {
  let ns: LabNetns;
  const registry = new ProcessRegistry();
  let work: string;
  let vbmc: LabProcess;
  let ready: Ready['bmcs'][number];
  let readyUefi: Ready['bmcs'][number];
  let isoServer: http.Server;
  let isoUrl: string;
  const discovers: string[] = [];
  /** DHCP option 60 (vendor class) of each request, by client MAC. */
  const vendorClasses = new Map<string, string[]>();

  const steps = async (list: object[], bmc = ready): Promise<unknown[]> => {
    const r = await ns.exec(TSX, [join(REPO, 'test/vbmc/redfish-steps.ts'), bmc.url, bmc.fingerprint256, 'admin', 'e2e-pw', JSON.stringify(list)], { timeoutMs: 120_000, allowFailure: true });
    if (r.code !== 0) throw new Error(`redfish steps ${JSON.stringify(list)} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as unknown[];
  };
  const admin = async <T>(path: string, bmc = ready): Promise<T> => {
    const r = await ns.exec('curl', ['-sSk', `${bmc.url}${path}`], { timeoutMs: 20_000 });
    return JSON.parse(r.stdout) as T;
  };
  interface State {
    power: string;
    qemuPid: number | null;
    boot: { target: string; enabled: string };
    boots: { device: string; override?: string; reason: string; mode: string; nicBoot: string }[];
    media: { image: string | null; inserted: boolean }[];
  }
  const serial = (): string => stripAnsi(readFileSync(join(work, 'state/vm1/serial.log'), 'latin1'));
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-vbmc-e2e-'));
    ns = await createLabNetns({ taps: 2 });
    const iso = readFileSync(buildBootIso(work));
    // The ISO's HTTP server listens inside the namespace; its handler runs here.
    isoServer = http.createServer((req, res) => {
      if (req.url !== '/boot.iso') return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Length': String(iso.length), 'Content-Type': 'application/octet-stream' }).end(iso);
    });
    isoServer.listen(await ns.listenTcp(8081));
    isoUrl = `http://${ns.address}:8081/boot.iso`;
    // A DHCP "server" that only listens: a DISCOVER from the VM's MAC proves a network boot.
    const dhcp = await ns.bindUdp(67, '0.0.0.0', { reuseAddr: true, broadcast: true });
    dhcp.on('message', (m: Buffer) => {
      if (m.length < 240 || m[0] !== 1) return;
      const mac = [...m.subarray(28, 34)].map((b) => b.toString(16).padStart(2, '0')).join(':');
      discovers.push(mac);
      for (let i = 240; i + 1 < m.length && m[i] !== 255; ) {
        if (m[i] === 0) {
          i++;
          continue;
        }
        const len = m[i + 1]!;
        if (m[i] === 60) vendorClasses.set(mac, [...(vendorClasses.get(mac) ?? []), m.subarray(i + 2, i + 2 + len).toString('latin1')]);
        i += 2 + len;
      }
    });
    const config = {
      stateDir: join(work, 'state'),
      bmcs: [
        {
          name: 'vm1',
          personality: 'generic',
          listen: { host: ns.address, port: 8443 },
          username: 'admin',
          password: 'e2e-pw',
          machine: { backend: 'qemu', uuid: UUID, serialNumber: 'E2E-VM1', memoryMb: 256, firmware: 'seabios', nics: [{ mac: MAC, tap: ns.taps[0] }], disks: [{ sizeMb: 16 }], bootOrder: ['disk', 'net'], gracefulShutdownSeconds: 2 },
        },
        {
          name: 'vm2',
          personality: 'dell',
          listen: { host: ns.address, port: 8444 },
          username: 'admin',
          password: 'e2e-pw',
          machine: { backend: 'qemu', memoryMb: 256, firmware: 'ovmf', nicBoot: 'firmware-pxe', nics: [{ mac: UEFI_MAC, tap: ns.taps[1] }], disks: [{ sizeMb: 16 }], bootOrder: ['disk', 'net'] },
        },
      ],
    };
    writeFileSync(join(work, 'vbmc.yaml'), stringify(config));
    const readyFile = join(work, 'vbmc.ready');
    vbmc = await registry.start({ name: 'vbmc', ns, command: TSX, args: [join(REPO, 'vbmc/main.ts'), '--config', join(work, 'vbmc.yaml'), '--ready-file', readyFile], logFile: join(work, 'vbmc.log') });
    await waitUntil(
      'vbmc ready file',
      () => {
        if (!vbmc.isRunning()) throw new Error(`vbmc exited early: ${readFileSync(join(work, 'vbmc.log'), 'utf8')}`);
        return existsSync(readyFile);
      },
      60_000,
    );
    const all = (JSON.parse(readFileSync(readyFile, 'utf8')) as Ready).bmcs;
    ready = all[0]!;
    readyUefi = all[1]!;
    (dhcp as unknown as { unref(): void }).unref();
  });

  afterAll(async () => {
    await vbmc?.stop();
    await registry.stopAll();
    isoServer?.close();
    await ns?.destroy();
    if (work !== undefined && !process.env.KEEP) rmSync(work, { recursive: true, force: true });
  });

  it('reads the VM identity over Redfish', async () => {
    const [inv] = (await steps([{ op: 'inventory' }])) as { system: { uuid: string; serialNumber: string }; macs: string[]; powerState: string }[];
    expect(inv).toMatchObject({ system: { uuid: UUID, serialNumber: 'E2E-VM1' }, macs: [MAC], powerState: 'Off' });
  }, 120_000);

  it('powers on with a one-time Pxe override: QEMU starts and the VM sends DHCPDISCOVER', async () => {
    await steps([{ op: 'boot', target: 'Pxe', mode: 'Legacy' }, { op: 'on' }]);
    const st = await admin<State>('/vbmc/state');
    expect(st.power).toBe('On');
    expect(st.boots.at(-1)).toMatchObject({ device: 'net', override: 'Pxe', reason: 'power-on' });
    expect(st.boot.enabled).toBe('Disabled');
    expect(st.qemuPid).not.toBeNull();
    expect(alive(st.qemuPid!)).toBe(true);
    await waitUntil('a DHCPDISCOVER from the VM', () => discovers.includes(MAC), 120_000, 250);
  }, 300_000);

  it('ForceOff ends the QEMU process', async () => {
    const before = await admin<State>('/vbmc/state');
    await steps([{ op: 'off', force: true }]);
    const st = await admin<State>('/vbmc/state');
    expect(st.power).toBe('Off');
    expect(st.qemuPid).toBeNull();
    await waitUntil('QEMU to be gone', () => !alive(before.qemuPid!), 10_000);
  }, 120_000);

  it('InsertMedia attaches the ISO to the running VM (query-block) and a Cd override boots it', async () => {
    await steps([{ op: 'on' }, { op: 'insert', url: isoUrl }]);
    const block = await admin<{ block: { device: string; qdev: string; inserted?: { file: string } }[] }>('/vbmc/block');
    const cd = block.block.find((b) => b.qdev.includes('vcd0'));
    expect(cd?.inserted?.file).toMatch(/media\/slot0-\d+\.iso$/);
    expect(readFileSync(cd!.inserted!.file).length).toBeGreaterThan(0);
    expect(serial()).not.toContain(MARKER);
    await steps([{ op: 'boot', target: 'Cd', mode: 'Legacy' }, { op: 'reset', type: 'ForceRestart' }]);
    const st = await admin<State>('/vbmc/state');
    expect(st.boots.at(-1)).toMatchObject({ device: 'cdrom', override: 'Cd', reason: 'reset' });
    expect(st.media[0]).toMatchObject({ image: isoUrl, inserted: true });
    await waitUntil('the CD boot marker on the serial console', () => serial().includes(MARKER), 120_000, 250);
    // The ISO's isolinux powers the VM off (APM): the vbmc notices the guest's shutdown.
    await waitUntil('PowerState Off after the guest powered off', async () => (await admin<State>('/vbmc/state')).power === 'Off', 60_000, 500);
    const [inv] = (await steps([{ op: 'inventory' }])) as { powerState: string }[];
    expect(inv?.powerState).toBe('Off');
  }, 400_000);

  it('GracefulShutdown: firmware ignores the ACPI button, so the vbmc forces the VM off after the grace period', async () => {
    await steps([{ op: 'on' }]);
    const pid = (await admin<State>('/vbmc/state')).qemuPid!;
    await steps([{ op: 'reset', type: 'GracefulShutdown' }]);
    expect((await admin<State>('/vbmc/state')).power).toBe('On');
    await waitUntil('PowerState Off after the grace period', async () => (await admin<State>('/vbmc/state')).power === 'Off', 60_000, 250);
    await waitUntil('QEMU to be gone', () => !alive(pid), 10_000);
  }, 200_000);

  it('OVMF (Dell personality): a Pxe override boots EDK2 PXE, a UefiHttp override boots EDK2 HTTP Boot', async () => {
    await steps([{ op: 'boot', target: 'Pxe', mode: 'UEFI' }, { op: 'on' }], readyUefi);
    expect((await admin<State>('/vbmc/state', readyUefi)).boots.at(-1)).toMatchObject({ device: 'net', override: 'Pxe', mode: 'UEFI', nicBoot: 'firmware-pxe' });
    await waitUntil('an EDK2 PXE request (PXEClient, arch 7)', () => (vendorClasses.get(UEFI_MAC) ?? []).some((v) => v.startsWith('PXEClient:Arch:00007')), 180_000, 250);
    await steps([{ op: 'off', force: true }, { op: 'boot', target: 'UefiHttp', mode: 'UEFI' }, { op: 'on' }], readyUefi);
    expect((await admin<State>('/vbmc/state', readyUefi)).boots.at(-1)).toMatchObject({ device: 'net', override: 'UefiHttp', nicBoot: 'firmware-http' });
    await waitUntil('an EDK2 HTTP Boot request (HTTPClient, arch 16)', () => (vendorClasses.get(UEFI_MAC) ?? []).some((v) => v.startsWith('HTTPClient:Arch:00016')), 180_000, 250);
    await steps([{ op: 'off', force: true }], readyUefi);
    expect((await admin<State>('/vbmc/state', readyUefi)).qemuPid).toBeNull();
  }, 500_000);
});
