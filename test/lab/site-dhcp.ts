// dnsmasq (from dnsmasq-base) inside the lab namespace.
//
// startSiteDhcp(): a PLAIN site DHCP server — address pool only, no PXE options — standing in for the
// "existing DHCP server" in ProxyDHCP-mode tests.
// startDnsmasq() + referencePxeDnsmasqConfig(): dnsmasq doing full PXE (DHCP + TFTP + dhcp-boot rules), the
// reference setup the harness self-test and the packet captures use instead of rackboot.
//
// Always: port=0 (no DNS), no-ping (no 3 s ping-before-offer), lease file and log under workDir, no pid file in
// /run, foreground (-k) so the tracked PID is dnsmasq itself. Restart instead of SIGHUP (dnsmasq 2.90 crashed on
// a SIGHUP reload in the research runs).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabNetns } from './netns.js';
import type { LabProcess, ProcessRegistry } from './processes.js';

export interface DnsmasqOptions {
  ns: LabNetns;
  registry: ProcessRegistry;
  /** Directory for dnsmasq.conf, leases and the log. Created if missing. */
  workDir: string;
  /** Config lines appended after the common ones (dhcp-range, dhcp-boot, …). */
  config: readonly string[];
  /** Default: the namespace's bridge. */
  interface?: string;
  /** Process name in the registry. Default 'dnsmasq'. */
  name?: string;
}

export interface DnsmasqHandle {
  process: LabProcess;
  confFile: string;
  leaseFile: string;
  /** dnsmasq's own log (log-dhcp output goes here). */
  logFile: string;
  /** Current lease file entries. */
  leases(): DnsmasqLease[];
  /** Current content of the log file. */
  log(): string;
}

export interface DnsmasqLease {
  expires: number;
  mac: string;
  ip: string;
  hostname: string;
  clientId: string;
}

export async function startDnsmasq(opts: DnsmasqOptions): Promise<DnsmasqHandle> {
  mkdirSync(opts.workDir, { recursive: true });
  const iface = opts.interface ?? opts.ns.bridge;
  const confFile = join(opts.workDir, 'dnsmasq.conf');
  const leaseFile = join(opts.workDir, 'dnsmasq.leases');
  const logFile = join(opts.workDir, 'dnsmasq.log');
  const lines = [
    'port=0',
    `interface=${iface}`,
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'no-ping',
    'log-dhcp',
    `log-facility=${logFile}`,
    `dhcp-leasefile=${leaseFile}`,
    'pid-file=',
    ...opts.config,
    '',
  ];
  writeFileSync(confFile, lines.join('\n'));
  writeFileSync(leaseFile, '');
  const proc = await opts.registry.start({
    name: opts.name ?? 'dnsmasq',
    ns: opts.ns,
    command: 'dnsmasq',
    // -k: foreground; -u root: keep root so it can write the log/lease files in workDir; --conf-file replaces
    // /etc/dnsmasq.conf entirely.
    args: ['-k', '-u', 'root', `--conf-file=${confFile}`],
    logFile: join(opts.workDir, 'dnsmasq.out'),
  });
  return {
    process: proc,
    confFile,
    leaseFile,
    logFile,
    leases: () => parseLeases(existsSync(leaseFile) ? readFileSync(leaseFile, 'utf8') : ''),
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}

export function parseLeases(text: string): DnsmasqLease[] {
  const out: DnsmasqLease[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    out.push({ expires: Number(f[0]), mac: f[1] ?? '', ip: f[2] ?? '', hostname: f[3] ?? '', clientId: f[4] ?? '' });
  }
  return out;
}

export interface SiteDhcpOptions {
  ns: LabNetns;
  registry: ProcessRegistry;
  workDir: string;
  /** Pool, default 10.250.0.100 – 10.250.0.199 (must be inside the bridge's subnet). */
  rangeStart?: string;
  rangeEnd?: string;
  netmask?: string;
  /** dnsmasq lease time syntax, default '10m'. */
  leaseTime?: string;
  /** Extra dnsmasq lines (e.g. dhcp-host reservations). Must not add PXE options if the test needs a plain server. */
  extraConfig?: readonly string[];
}

/** A plain DHCP server: address pool only, no next-server, no boot file, no PXE vendor options. */
export function startSiteDhcp(opts: SiteDhcpOptions): Promise<DnsmasqHandle> {
  return startDnsmasq({
    ns: opts.ns,
    registry: opts.registry,
    workDir: opts.workDir,
    name: 'site-dhcp',
    config: [
      `dhcp-range=${opts.rangeStart ?? '10.250.0.100'},${opts.rangeEnd ?? '10.250.0.199'},${opts.netmask ?? '255.255.255.0'},${opts.leaseTime ?? '10m'}`,
      ...(opts.extraConfig ?? []),
    ],
  });
}

export interface PxeConfigOptions {
  /** TFTP root holding undionly.kpxe and snponly.efi. */
  tftpRoot: string;
  /** Server address used for next-server and URLs, e.g. 10.250.0.1. */
  serverIp: string;
  /** Base URL of the HTTP server, e.g. http://10.250.0.1:8080 (serves /boot.ipxe and /snponly.efi). */
  httpBase: string;
  rangeStart?: string;
  rangeEnd?: string;
}

/**
 * dnsmasq lines for full PXE as in the research lab (lab-up.sh):
 *  - iPXE (user class "iPXE")            -> filename <httpBase>/boot.ipxe, plus 175.176=1 (no-pxedhcp)
 *  - BIOS firmware PXE (arch 0)          -> undionly.kpxe over TFTP
 *  - EDK2 PXE (arch 7/9)                 -> snponly.efi over TFTP
 *  - EDK2 HTTP Boot (vendor HTTPClient)  -> option 60 echoed + <httpBase>/snponly.efi
 */
export function referencePxeDnsmasqConfig(o: PxeConfigOptions): string[] {
  return [
    `dhcp-range=${o.rangeStart ?? '10.250.0.100'},${o.rangeEnd ?? '10.250.0.199'},255.255.255.0,10m`,
    'enable-tftp',
    `tftp-root=${o.tftpRoot}`,
    'dhcp-userclass=set:ipxe,iPXE',
    'dhcp-match=set:bios,option:client-arch,0',
    'dhcp-match=set:efi64,option:client-arch,7',
    'dhcp-match=set:efi64,option:client-arch,9',
    'dhcp-vendorclass=set:httpclient,HTTPClient',
    `dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe,,${o.serverIp}`,
    `dhcp-boot=tag:!ipxe,tag:efi64,tag:!httpclient,snponly.efi,,${o.serverIp}`,
    'dhcp-option-force=tag:httpclient,option:vendor-class,HTTPClient',
    `dhcp-boot=tag:httpclient,tag:!ipxe,${o.httpBase}/snponly.efi`,
    `dhcp-boot=tag:ipxe,${o.httpBase}/boot.ipxe`,
    'dhcp-option=tag:ipxe,encap:175,176,1',
  ];
}
