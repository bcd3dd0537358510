// radvd on the lab bridge, sending a bare IPv6 Router Advertisement: no prefix (hands out no addresses),
// AdvDefaultLifetime 0 (no default route). Its only purpose is to end iPXE's wait for IPv6 autoconfiguration,
// which otherwise adds 13-17 s to every iPXE boot on a link without a router.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabNetns } from './netns.js';
import type { LabProcess, ProcessRegistry } from './processes.js';

export interface RadvdOptions {
  ns: LabNetns;
  registry: ProcessRegistry;
  /** Directory for radvd.conf, its pid file and log. Created if missing. */
  workDir: string;
  /** Default: the namespace's bridge. */
  interface?: string;
}

export interface RadvdHandle {
  process: LabProcess;
  confFile: string;
  logFile: string;
}

export function radvdConfig(iface: string): string {
  return [
    `interface ${iface} {`,
    '  AdvSendAdvert on;',
    '  AdvDefaultLifetime 0;',
    '  MinRtrAdvInterval 3;',
    '  MaxRtrAdvInterval 10;',
    '};',
    '',
  ].join('\n');
}

export async function startRadvd(opts: RadvdOptions): Promise<RadvdHandle> {
  const iface = opts.interface ?? opts.ns.bridge;
  mkdirSync(opts.workDir, { recursive: true });
  const confFile = join(opts.workDir, 'radvd.conf');
  const logFile = join(opts.workDir, 'radvd.log');
  writeFileSync(confFile, radvdConfig(iface));
  // -n: stay in the foreground (so the PID we track is radvd's); -m logfile: log to our file, not syslog.
  // "IPv6 forwarding seems to be disabled, but continuing anyway" in the log is expected and harmless.
  const proc = await opts.registry.start({
    name: 'radvd',
    ns: opts.ns,
    command: 'radvd',
    args: ['-n', '-C', confFile, '-p', join(opts.workDir, 'radvd.pid'), '-m', 'logfile', '-l', logFile],
    logFile: join(opts.workDir, 'radvd.out'),
  });
  return { process: proc, confFile, logFile };
}
