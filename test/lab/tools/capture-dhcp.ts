// One-off tool: capture real DHCP packets on the lab bridge while VMs PXE-boot against dnsmasq (the reference PXE
// setup from referencePxeDnsmasqConfig), and write the UDP payloads to test/fixtures/dhcp/captures/*.json as
// [{ "name": "...", "hex": "..." }]. Run as root:
//
//   npx tsx test/lab/tools/capture-dhcp.ts            (writes the fixtures; raw pcaps go to test/.artifacts/)
//
// Not a test; nothing imports it. See test/fixtures/dhcp/captures/README.md for what was captured.

import { execFileSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLabNetns, labPrerequisiteProblems, type LabNetns } from '../netns.js';
import { ProcessRegistry, waitUntil } from '../processes.js';
import { bootVm, vmDiagnostics, type Firmware, type NicBoot } from '../qemu.js';
import { startRadvd } from '../radvd.js';
import { referencePxeDnsmasqConfig, startDnsmasq } from '../site-dhcp.js';
import { buildTestAppliance, defaultCacheDir, type TestAppliance } from '../test-iso.js';
import { readPcapUdp, type UdpDatagram } from './pcap.js';

const SERVER = '10.250.0.1';
const HTTP = `http://${SERVER}:8080`;
const OUT_DIR = fileURLToPath(new URL('../../fixtures/dhcp/captures/', import.meta.url));
const WORK = fileURLToPath(new URL(`../../.artifacts/dhcp-captures-${process.pid}/`, import.meta.url));

type Stage = 'ipxe' | 'edk2-pxe' | 'edk2-http' | 'udhcpc' | 'other';

interface Output {
  file: string;
  stage: Stage;
}

interface Run {
  run: string;
  firmware: Firmware;
  nic: NicBoot;
  mac: string;
  uuid: string;
  outputs: Output[];
}

const RUNS: Run[] = [
  {
    run: 'seabios-ipxe-rom',
    firmware: 'seabios',
    nic: 'ipxe-rom',
    mac: '52:54:00:e2:e1:01',
    uuid: '9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a01',
    outputs: [
      { file: 'seabios-ipxe-rom', stage: 'ipxe' },
      { file: 'udhcpc-initramfs', stage: 'udhcpc' },
    ],
  },
  {
    run: 'ovmf-edk2-pxe',
    firmware: 'ovmf',
    nic: 'firmware-pxe',
    mac: '52:54:00:e2:e1:02',
    uuid: '9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a02',
    outputs: [
      { file: 'ovmf-edk2-pxe', stage: 'edk2-pxe' },
      { file: 'ipxe-snponly-efi', stage: 'ipxe' },
    ],
  },
  {
    run: 'ovmf-http-boot',
    firmware: 'ovmf',
    nic: 'firmware-http',
    mac: '52:54:00:e2:e1:03',
    uuid: '9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a03',
    outputs: [{ file: 'ovmf-http-boot', stage: 'edk2-http' }],
  },
  {
    run: 'ovmf-ipxe-rom',
    firmware: 'ovmf',
    nic: 'ipxe-rom',
    mac: '52:54:00:e2:e1:04',
    uuid: '9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a04',
    outputs: [{ file: 'ovmf-ipxe-efi-rom', stage: 'ipxe' }],
  },
];

const MSG_TYPES: Record<number, string> = {
  1: 'DHCPDISCOVER',
  2: 'DHCPOFFER',
  3: 'DHCPREQUEST',
  4: 'DHCPDECLINE',
  5: 'DHCPACK',
  6: 'DHCPNAK',
  7: 'DHCPRELEASE',
  8: 'DHCPINFORM',
};

interface Dhcp {
  op: number;
  xid: number;
  chaddr: string;
  msgType: number | undefined;
  vendorClass: string | undefined;
  userClass: Buffer | undefined;
}

function parseDhcp(b: Buffer): Dhcp | undefined {
  if (b.length < 240 || b.readUInt32BE(236) !== 0x63825363) return undefined;
  const opts = new Map<number, Buffer>();
  let i = 240;
  while (i < b.length) {
    const code = b.readUInt8(i);
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) break;
    const len = b.readUInt8(i + 1);
    opts.set(code, Buffer.from(b.subarray(i + 2, i + 2 + len)));
    i += 2 + len;
  }
  const chaddr = [...b.subarray(28, 34)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  return {
    op: b.readUInt8(0),
    xid: b.readUInt32BE(4),
    chaddr,
    msgType: opts.get(53)?.readUInt8(0),
    vendorClass: opts.get(60)?.toString('latin1'),
    userClass: opts.get(77),
  };
}

function stageOf(d: Dhcp): Stage {
  if (d.vendorClass?.startsWith('rackboot-test')) return 'udhcpc';
  if (d.userClass?.includes('iPXE')) return 'ipxe';
  if (d.vendorClass?.startsWith('HTTPClient')) return 'edk2-http';
  if (d.vendorClass?.startsWith('PXEClient')) return 'edk2-pxe';
  return 'other';
}

interface Entry {
  name: string;
  hex: string;
}

function selectEntries(run: Run, out: Output, packets: UdpDatagram[]): Entry[] {
  const parsed = packets
    .filter((p) => [67, 68, 4011].includes(p.dstPort))
    .map((p) => ({ p, d: parseDhcp(p.payload) }))
    .filter((x): x is { p: UdpDatagram; d: Dhcp } => x.d !== undefined && x.d.chaddr === run.mac);
  const clientXids = new Set(parsed.filter((x) => x.d.op === 1 && stageOf(x.d) === out.stage).map((x) => x.d.xid));
  const entries: Entry[] = [];
  const seen = new Map<string, number>();
  for (const { p, d } of parsed) {
    const isClient = d.op === 1;
    if (isClient && stageOf(d) !== out.stage) continue;
    if (!isClient && !clientXids.has(d.xid)) continue;
    const type = d.msgType === undefined ? 'BOOTP' : (MSG_TYPES[d.msgType] ?? `DHCP-type-${d.msgType}`);
    const base = isClient ? `${out.file}: client ${type}` : `${out.file}: dnsmasq ${type}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const detail = isClient
      ? `vendor-class ${JSON.stringify(d.vendorClass ?? '')}, xid 0x${d.xid.toString(16).padStart(8, '0')}, ${p.srcIp}:${p.srcPort} -> ${p.dstIp}:${p.dstPort}`
      : `xid 0x${d.xid.toString(16).padStart(8, '0')}, ${p.srcIp}:${p.srcPort} -> ${p.dstIp}:${p.dstPort}`;
    entries.push({ name: `${base}${n > 1 ? ` #${n}` : ''} (${detail})`, hex: p.payload.toString('hex') });
  }
  return entries;
}

function version(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    return 'not installed';
  }
}

async function main(): Promise<void> {
  const problems = labPrerequisiteProblems(['ip', 'qemu-system-x86_64', 'dnsmasq', 'radvd', 'tcpdump']);
  if (problems.length > 0) throw new Error(`cannot capture: ${problems.join('; ')}`);
  const appliance: TestAppliance = await buildTestAppliance(defaultCacheDir());
  mkdirSync(join(WORK, 'tftp'), { recursive: true });
  mkdirSync(OUT_DIR, { recursive: true });
  copyFileSync('/usr/lib/ipxe/undionly.kpxe', join(WORK, 'tftp/undionly.kpxe'));
  copyFileSync('/usr/lib/ipxe/snponly.efi', join(WORK, 'tftp/snponly.efi'));

  const procs = new ProcessRegistry();
  let ns: LabNetns | undefined;
  let server: Server | undefined;
  const phoned = new Set<string>();
  try {
    ns = await createLabNetns({ taps: RUNS.length });
    await startRadvd({ ns, registry: procs, workDir: join(WORK, 'radvd') });
    await startDnsmasq({
      ns,
      registry: procs,
      workDir: join(WORK, 'dnsmasq'),
      config: referencePxeDnsmasqConfig({ tftpRoot: join(WORK, 'tftp'), serverIp: SERVER, httpBase: HTTP }),
    });
    const serve = (res: ServerResponse, path: string): void => {
      res.writeHead(200, { 'content-length': String(statSync(path).size) });
      createReadStream(path).pipe(res);
    };
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const url = new URL(req.url ?? '/', HTTP);
      const text = (s: number, body: string): void => {
        res.writeHead(s, { 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      };
      if (url.pathname === '/phone-home') {
        phoned.add((url.searchParams.get('mac') ?? '').toLowerCase());
        text(200, 'ok\n');
      } else if (url.pathname === '/boot.ipxe') {
        text(
          200,
          `#!ipxe\nkernel ${HTTP}/vmlinuz initrd=initrd.img console=ttyS0 quiet panic=-1 rackboot.phonehome=${HTTP}/phone-home\n` +
            `initrd ${HTTP}/initrd.img\nboot\n`,
        );
      } else if (url.pathname === '/vmlinuz') serve(res, appliance.kernelPath);
      else if (url.pathname === '/initrd.img') serve(res, appliance.initrdPath);
      else if (url.pathname === '/snponly.efi') serve(res, '/usr/lib/ipxe/snponly.efi');
      else text(404, 'not found\n');
    };
    const handle = await ns.listenTcp(8080, SERVER);
    const srv = createServer(handler);
    server = srv;
    await new Promise<void>((resolve) => srv.listen(handle, () => resolve()));

    const timings: string[] = [];
    for (const [i, run] of RUNS.entries()) {
      const pcap = join(WORK, `${run.run}.pcap`);
      const tlog = join(WORK, `${run.run}.tcpdump.log`);
      const tcpdump = await procs.start({
        name: `tcpdump ${run.run}`,
        ns,
        command: 'tcpdump',
        args: ['-i', 'br0', '-n', '-U', '-Z', 'root', '-w', pcap, 'udp port 67 or udp port 68 or udp port 4011'],
        logFile: tlog,
        stopSignal: 'SIGINT',
      });
      await waitUntil('tcpdump to listen', () => existsSync(tlog) && readFileSync(tlog, 'utf8').includes('listening on'), 10_000);
      const started = Date.now();
      const vm = await bootVm({
        ns,
        tap: `tap${i}`,
        mac: run.mac,
        firmware: run.firmware,
        nic: run.nic,
        uuid: run.uuid,
        serialLog: join(WORK, `${run.run}.serial.log`),
        timeoutMs: 180_000,
        registry: procs,
      });
      try {
        await waitUntil(`phone-home from ${run.mac}`, () => phoned.has(run.mac), 180_000);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${vmDiagnostics(vm)}`);
      }
      timings.push(`${run.run}: phone-home after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await vm.exited;
      await new Promise((r) => setTimeout(r, 500));
      await tcpdump.stop();
      const packets = readPcapUdp(readFileSync(pcap));
      for (const out of run.outputs) {
        const entries = selectEntries(run, out, packets);
        if (entries.length === 0) throw new Error(`${run.run}: no packets for stage ${out.stage}`);
        writeFileSync(join(OUT_DIR, `${out.file}.json`), JSON.stringify(entries, null, 2) + '\n');
        console.log(`${out.file}.json: ${entries.length} packets`);
        for (const e of entries) console.log(`  ${e.name} [${e.hex.length / 2} bytes]`);
      }
    }
    console.log(timings.join('\n'));
    console.log(`captured ${new Date().toISOString()}`);
    for (const p of ['qemu-system-x86', 'seabios', 'ipxe-qemu', 'ipxe', 'ovmf', 'dnsmasq-base', 'busybox-static', 'tcpdump']) {
      console.log(`${p} ${version(p)}`);
    }
    console.log(`${appliance.kernelPackage} ${appliance.kernelPackageVersion} (downloaded, not installed)`);
  } finally {
    server?.closeAllConnections();
    server?.close();
    await procs.stopAll();
    await ns?.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
