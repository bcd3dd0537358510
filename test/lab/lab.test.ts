// End-to-end self-test of the QEMU PXE lab harness, WITHOUT rackboot: dnsmasq does DHCP + TFTP + dhcp-boot
// rules (the research lab's reference setup), radvd ends iPXE's IPv6 wait, and a small node:http server in this
// process (listening inside the namespace) serves the iPXE scripts, kernel and initrd and records phone-homes.
//
// Needs root and /dev/net/tun (plus the Debian packages in scripts/install-deps.sh 'test'). Without them the
// file is skipped with a message — except when CI is set, where missing prerequisites fail the run.

import { randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createLabNetns, labPrerequisiteProblems, type LabNetns } from './netns.js';
import { ProcessRegistry } from './processes.js';
import { bootVm, OVMF_CODE, OVMF_VARS, vmDiagnostics, waitForSerial, type LabVm } from './qemu.js';
import { startRadvd } from './radvd.js';
import { referencePxeDnsmasqConfig, startDnsmasq, type DnsmasqHandle } from './site-dhcp.js';
import { buildTestAppliance, defaultCacheDir, type TestAppliance } from './test-iso.js';

const COMMANDS = [
  'ip',
  'qemu-system-x86_64',
  'dnsmasq',
  'radvd',
  'apt-get',
  'apt-cache',
  'dpkg-deb',
  'tar',
  'cpio',
  'gzip',
  'mksquashfs',
  'xorriso',
  'grub-mkstandalone',
  'mformat',
  'mmd',
  'mcopy',
  'truncate',
];
const FILES = [
  '/usr/lib/ipxe/undionly.kpxe',
  '/usr/lib/ipxe/snponly.efi',
  '/usr/lib/ISOLINUX/isolinux.bin',
  '/usr/lib/ISOLINUX/isohdpfx.bin',
  '/usr/lib/syslinux/modules/bios/ldlinux.c32',
  '/bin/busybox',
  OVMF_CODE,
  OVMF_VARS,
];

const problems = [...labPrerequisiteProblems(COMMANDS), ...FILES.filter((f) => !existsSync(f)).map((f) => `missing file ${f}`)];
const inCi = (process.env['CI'] ?? '') !== '';

const SERVER = '10.250.0.1';
const HTTP = `http://${SERVER}:8080`;
const BOOT_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 240_000;

interface PhoneHome {
  mac: string;
  uptime: number;
  query: Record<string, string>;
  at: number;
}

if (problems.length > 0) {
  describe('QEMU PXE lab self-test', () => {
    if (inCi) {
      it('has its prerequisites (CI is set, so missing prerequisites fail)', () => {
        throw new Error(`QEMU lab prerequisites missing: ${problems.join('; ')}`);
      });
    } else {
      process.stderr.write(`[lab.test] skipping the QEMU lab self-test: ${problems.join('; ')}\n`);
      it.skip(`skipped: ${problems.join('; ')}`, () => undefined);
    }
  });
} else {
  describe('QEMU PXE lab self-test', () => {
    const procs = new ProcessRegistry();
    const workDir = join(
      fileURLToPath(new URL('../.artifacts/', import.meta.url)),
      `lab-selftest-${process.pid}-${randomBytes(3).toString('hex')}`,
    );
    let appliance: TestAppliance;
    let ns: LabNetns | undefined;
    let dnsmasq: DnsmasqHandle;
    let server: Server | undefined;
    let keepArtifacts = false;
    const scripts = new Map<string, string>(); // hyphenated MAC -> iPXE script
    const phoneHomes: PhoneHome[] = [];
    const requests: string[] = [];

    function serveFile(res: ServerResponse, path: string): void {
      const size = statSync(path).size;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
      createReadStream(path).pipe(res);
    }

    function handle(req: IncomingMessage, res: ServerResponse): void {
      const url = new URL(req.url ?? '/', HTTP);
      requests.push(`${req.method ?? '?'} ${url.pathname}${url.search}`);
      const text = (status: number, body: string): void => {
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      };
      if (url.pathname === '/phone-home') {
        const query = Object.fromEntries(url.searchParams.entries());
        phoneHomes.push({ mac: (query['mac'] ?? '').toLowerCase(), uptime: Number(query['uptime']), query, at: Date.now() });
        text(200, 'ok\n');
      } else if (url.pathname === '/boot.ipxe') {
        text(200, `#!ipxe\nchain ${HTTP}/m/\${net0/mac:hexhyp}.ipxe || shell\n`);
      } else if (url.pathname.startsWith('/m/') && url.pathname.endsWith('.ipxe')) {
        const script = scripts.get(url.pathname.slice(3, -5).toLowerCase());
        if (script === undefined) text(404, 'no script for this machine\n');
        else text(200, script);
      } else if (url.pathname === '/vmlinuz') {
        serveFile(res, appliance.kernelPath);
      } else if (url.pathname === '/initrd.img') {
        serveFile(res, appliance.initrdPath);
      } else if (url.pathname === '/snponly.efi') {
        serveFile(res, '/usr/lib/ipxe/snponly.efi');
      } else {
        text(404, 'not found\n');
      }
    }

    /** Resolves with the phone-home of `mac`; rejects if the VM exits first or on timeout. */
    async function waitForPhoneHome(vm: LabVm, timeoutMs: number): Promise<PhoneHome> {
      let exitCode: number | null | undefined;
      void vm.exited.then((c) => {
        exitCode = c;
      });
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ph = phoneHomes.find((p) => p.mac === vm.mac);
        if (ph) return ph;
        if (exitCode !== undefined || Date.now() >= deadline) {
          const why = exitCode !== undefined ? `VM exited (code ${String(exitCode)}${vm.timedOut ? ', timed out' : ''})` : 'timeout';
          throw new Error(
            `no phone-home from ${vm.mac} (${why})\nHTTP requests: ${requests.join(', ') || 'none'}\n` +
              `--- dnsmasq log (tail) ---\n${dnsmasq.log().split('\n').slice(-25).join('\n')}\n${vmDiagnostics(vm)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    beforeAll(async () => {
      appliance = await buildTestAppliance(defaultCacheDir());
      mkdirSync(join(workDir, 'tftp'), { recursive: true });
      copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(workDir, 'tftp/undionly.kpxe'));
      copyFileSync('/usr/lib/ipxe/snponly.efi', join(workDir, 'tftp/snponly.efi'));
      ns = await createLabNetns({ taps: 3 });
      await startRadvd({ ns, registry: procs, workDir: join(workDir, 'radvd') });
      dnsmasq = await startDnsmasq({
        ns,
        registry: procs,
        workDir: join(workDir, 'dnsmasq'),
        config: referencePxeDnsmasqConfig({ tftpRoot: join(workDir, 'tftp'), serverIp: SERVER, httpBase: HTTP }),
      });
      const handleSocket = await ns.listenTcp(8080, SERVER);
      const srv = createServer(handle);
      server = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(handleSocket, () => resolve());
      });
    }, 600_000);

    afterAll(async () => {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((r) => server?.close(() => r()));
      }
      await procs.stopAll();
      await ns?.destroy();
      if (!keepArtifacts) rmSync(workDir, { recursive: true, force: true });
      else process.stderr.write(`[lab.test] artifacts kept in ${workDir}\n`);
    }, 60_000);

    it(
      'SeaBIOS + iPXE ROM: DHCP -> boot.ipxe -> per-MAC script -> kernel+initrd -> phone-home',
      async () => {
        onTestFailed(() => {
          keepArtifacts = true;
        });
        if (!ns) throw new Error('no namespace');
        const mac = '52:54:00:e2:e0:00';
        scripts.set(
          mac.replace(/:/g, '-'),
          `#!ipxe\nkernel ${HTTP}/vmlinuz initrd=initrd.img console=ttyS0 quiet panic=-1 rackboot.phonehome=${HTTP}/phone-home?vm=pxe-bios\n` +
            `initrd ${HTTP}/initrd.img\nboot\n`,
        );
        const started = Date.now();
        const vm = await bootVm({
          ns,
          tap: 'tap0',
          mac,
          firmware: 'seabios',
          nic: 'ipxe-rom',
          serialLog: join(workDir, 'vm-pxe-bios.serial.log'),
          timeoutMs: BOOT_TIMEOUT_MS,
          registry: procs,
        });
        const ph = await waitForPhoneHome(vm, BOOT_TIMEOUT_MS);
        process.stderr.write(`[lab.test] pxe-bios: phone-home after ${((ph.at - started) / 1000).toFixed(1)} s\n`);
        expect(ph.query['vm']).toBe('pxe-bios');
        expect(Number.isFinite(ph.uptime)).toBe(true);
        await waitForSerial(vm, new RegExp(`RACKBOOT-PHONEHOME-OK mac=${mac}`), 60_000);
        expect(await vm.exited).toBe(0); // the initramfs powered the VM off
        expect(vm.timedOut).toBe(false);
        // The chain went through dnsmasq's dhcp-boot rule for iPXE and our per-machine script.
        expect(requests).toContain('GET /boot.ipxe');
        expect(requests).toContain(`GET /m/${mac.replace(/:/g, '-')}.ipxe`);
        // The DHCP server can tell the booted initramfs apart from the firmware.
        expect(dnsmasq.log()).toContain('vendor class: rackboot-test');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'the test ISO boots from CD-ROM on SeaBIOS (isolinux) and phones home with its built-in URL',
      async () => {
        onTestFailed(() => {
          keepArtifacts = true;
        });
        if (!ns) throw new Error('no namespace');
        const vm = await bootVm({
          ns,
          tap: 'tap1',
          mac: '52:54:00:e2:e0:01',
          firmware: 'seabios',
          nic: 'ipxe-rom',
          cdromPath: appliance.isoPath,
          bootOrder: ['cdrom', 'net'],
          serialLog: join(workDir, 'vm-iso-bios.serial.log'),
          timeoutMs: BOOT_TIMEOUT_MS,
          registry: procs,
        });
        const started = Date.now();
        const ph = await waitForPhoneHome(vm, BOOT_TIMEOUT_MS);
        process.stderr.write(`[lab.test] iso-bios: phone-home after ${((ph.at - started) / 1000).toFixed(1)} s\n`);
        expect(ph.query['vm']).toBeUndefined();
        expect(await vm.exited).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'the test ISO boots from CD-ROM on OVMF (GRUB EFI from the El Torito ESP) and phones home',
      async () => {
        onTestFailed(() => {
          keepArtifacts = true;
        });
        if (!ns) throw new Error('no namespace');
        const vm = await bootVm({
          ns,
          tap: 'tap2',
          mac: '52:54:00:e2:e0:02',
          firmware: 'ovmf',
          nic: 'ipxe-rom',
          cdromPath: appliance.isoPath,
          bootOrder: ['cdrom', 'net'],
          serialLog: join(workDir, 'vm-iso-uefi.serial.log'),
          timeoutMs: BOOT_TIMEOUT_MS,
          registry: procs,
        });
        const started = Date.now();
        const ph = await waitForPhoneHome(vm, BOOT_TIMEOUT_MS);
        process.stderr.write(`[lab.test] iso-uefi: phone-home after ${((ph.at - started) / 1000).toFixed(1)} s\n`);
        expect(await vm.exited).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );
  });
}
