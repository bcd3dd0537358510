// QEMU VMs for the lab: one VM per tap device, always software emulation.
//
// Always: -accel tcg (this machine kind's /dev/kvm is a paravirtual nested hypervisor that cannot run these
// guests), -machine q35, -no-reboot (a guest reboot or a kernel panic with panic=-1 ends QEMU), -nographic
// -nodefaults -monitor none, the serial console in a file. One virtio-net-pci NIC on the given tap.
//
//   firmware 'seabios' + nic 'ipxe-rom'      SeaBIOS, QEMU's iPXE option ROM does the network boot
//   firmware 'ovmf'    + nic 'ipxe-rom'      OVMF, QEMU's iPXE EFI option ROM (efi-virtio.rom)
//   firmware 'ovmf'    + nic 'firmware-pxe'  OVMF's own virtio driver + EDK2 PXE (romfile= disables the iPXE ROM)
//   firmware 'ovmf'    + nic 'firmware-http' EDK2 HTTP Boot (romfile=, and PXE disabled through fw_cfg)
// SeaBIOS has no PXE of its own, so 'firmware-pxe'/'firmware-http' require 'ovmf'.
// Each OVMF VM gets its own copy of OVMF_VARS_4M.fd (deleted when the VM exits).

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LabNetns } from './netns.js';
import { ProcessRegistry, type LabProcess } from './processes.js';

export type Firmware = 'seabios' | 'ovmf';
export type NicBoot = 'ipxe-rom' | 'firmware-pxe' | 'firmware-http';
export type BootDevice = 'net' | 'disk' | 'cdrom';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export interface BootVmOptions {
  ns: LabNetns;
  /** Tap device in the namespace, e.g. 'tap0'. One VM per tap. */
  tap: string;
  /** e.g. 52:54:00:e2:e0:00 */
  mac: string;
  firmware: Firmware;
  nic: NicBoot;
  /** Default 512. OVMF needs at least 256. */
  memoryMb?: number;
  /** Serial console output file (created/truncated). The QEMU process's own stderr goes to `<serialLog>.qemu.log`. */
  serialLog: string;
  /** Raw disk image attached as virtio-blk. */
  diskPath?: string;
  /** ISO attached as a read-only AHCI CD-ROM (think BMC virtual media). */
  cdromPath?: string;
  /** Boot priority; devices not attached are skipped. Default ['net', 'disk', 'cdrom']. */
  bootOrder?: readonly BootDevice[];
  /** The VM is killed after this long (it then exits with null). */
  timeoutMs: number;
  /** Track the QEMU process here too (so the test's stopAll() covers it). */
  registry?: ProcessRegistry;
  /**
   * SMBIOS system UUID (-uuid), e.g. 9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a01. Without it QEMU reports the all-zero
   * UUID, and the firmware's DHCP option 97 is all zeros too.
   */
  uuid?: string;
  /** Extra QEMU arguments, appended last. */
  extraArgs?: readonly string[];
  /** QEMU -name; default `rb-<tap>`. */
  name?: string;
}

export interface LabVm {
  readonly name: string;
  readonly pid: number;
  readonly mac: string;
  readonly serialLog: string;
  readonly qemuLog: string;
  /** Full QEMU command line (for error messages). */
  readonly argv: readonly string[];
  /** Exit code (0 after the guest's poweroff), or null if QEMU was killed (timeout or kill()). */
  readonly exited: Promise<number | null>;
  /** True once the timeout fired. */
  readonly timedOut: boolean;
  /** SIGTERM, then SIGKILL after 3 s; resolves when QEMU has exited. */
  kill(): Promise<void>;
  /** Serial console so far, with ANSI escapes and carriage returns removed. */
  serialText(): string;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Remove ANSI/VT100 escape sequences, NULs and carriage returns from console output. */
export function stripAnsi(s: string): string {
  return s
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '') // OSC
    .replace(/\x1b[()][0-9A-Za-z]/g, '') // charset selection
    .replace(/\x1b[@-Z\\-_]/g, '') // other 2-byte escapes
    .replace(/\r\n/g, '\n')
    .replace(/[\r\0]/g, '');
}

export function qemuArgs(opts: BootVmOptions, varsFile: string | undefined): string[] {
  if (!MAC_RE.test(opts.mac)) throw new Error(`bootVm: bad MAC ${opts.mac}`);
  if (opts.firmware === 'seabios' && opts.nic !== 'ipxe-rom') {
    throw new Error(`bootVm: nic '${opts.nic}' needs firmware 'ovmf' (SeaBIOS has no PXE of its own)`);
  }
  const mem = opts.memoryMb ?? 512;
  if (opts.firmware === 'ovmf' && mem < 256) throw new Error('bootVm: OVMF needs memoryMb >= 256');
  const order = (opts.bootOrder ?? ['net', 'disk', 'cdrom']).filter(
    (d) => d === 'net' || (d === 'disk' && opts.diskPath !== undefined) || (d === 'cdrom' && opts.cdromPath !== undefined),
  );
  const bootIndex = (d: BootDevice): string => {
    const i = order.indexOf(d);
    return i < 0 ? '' : `,bootindex=${i + 1}`;
  };
  const a: string[] = [
    '-name',
    opts.name ?? `rb-${opts.tap}`,
    '-accel',
    'tcg',
    '-machine',
    'q35',
    '-m',
    String(mem),
    '-smp',
    '1',
    '-nographic',
    '-nodefaults',
    '-monitor',
    'none',
    '-no-reboot',
    '-serial',
    `file:${opts.serialLog}`,
  ];
  if (opts.uuid !== undefined) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(opts.uuid)) throw new Error(`bootVm: bad UUID ${opts.uuid}`);
    a.push('-uuid', opts.uuid);
  }
  if (opts.firmware === 'ovmf') {
    if (varsFile === undefined) throw new Error('bootVm: OVMF needs a vars file');
    a.push('-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${varsFile}`);
  }
  a.push('-netdev', `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`);
  let nic = `virtio-net-pci,netdev=n0,mac=${opts.mac.toLowerCase()}${bootIndex('net')}`;
  if (opts.nic !== 'ipxe-rom') nic += ',romfile=';
  a.push('-device', nic);
  if (opts.nic === 'firmware-http') {
    a.push(
      '-fw_cfg',
      'name=opt/org.tianocore/IPv4PXESupport,string=n',
      '-fw_cfg',
      'name=opt/org.tianocore/IPv6PXESupport,string=n',
    );
  }
  if (opts.diskPath !== undefined) {
    a.push('-drive', `if=none,id=d0,format=raw,file=${opts.diskPath}`, '-device', `virtio-blk-pci,drive=d0${bootIndex('disk')}`);
  }
  if (opts.cdromPath !== undefined) {
    a.push(
      '-drive',
      `if=none,id=cd0,media=cdrom,readonly=on,format=raw,file=${opts.cdromPath}`,
      '-device',
      `ide-cd,drive=cd0,bus=ide.0${bootIndex('cdrom')}`,
    );
  }
  a.push(...(opts.extraArgs ?? []));
  return a;
}

/** Start a VM inside the namespace. Resolves once QEMU has been spawned. */
export async function bootVm(opts: BootVmOptions): Promise<LabVm> {
  if (!opts.ns.taps.includes(opts.tap)) throw new Error(`bootVm: ${opts.tap} is not a tap of ${opts.ns.name}`);
  mkdirSync(dirname(opts.serialLog), { recursive: true });
  writeFileSync(opts.serialLog, '');
  let varsDir: string | undefined;
  let varsFile: string | undefined;
  if (opts.firmware === 'ovmf') {
    if (!existsSync(OVMF_CODE) || !existsSync(OVMF_VARS)) throw new Error(`bootVm: OVMF not installed (${OVMF_CODE})`);
    varsDir = mkdtempSync(join(tmpdir(), 'rb-ovmf-'));
    varsFile = join(varsDir, 'OVMF_VARS_4M.fd');
    copyFileSync(OVMF_VARS, varsFile);
  }
  const cleanupVars = (): void => {
    if (varsDir !== undefined) rmSync(varsDir, { recursive: true, force: true });
  };
  let args: string[];
  try {
    args = qemuArgs(opts, varsFile);
  } catch (err) {
    cleanupVars();
    throw err;
  }
  const qemuLog = `${opts.serialLog}.qemu.log`;
  writeFileSync(qemuLog, '');
  const registry = opts.registry ?? new ProcessRegistry();
  let proc: LabProcess;
  try {
    proc = await registry.start({
      name: `qemu ${opts.name ?? opts.tap}`,
      ns: opts.ns,
      command: 'qemu-system-x86_64',
      args,
      logFile: qemuLog,
      stopTimeoutMs: 3000,
    });
  } catch (err) {
    cleanupVars();
    throw err;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.stop();
  }, opts.timeoutMs);
  timer.unref();
  const exited = proc.exited.then((e) => {
    clearTimeout(timer);
    cleanupVars();
    return e.code;
  });
  return {
    name: opts.name ?? `rb-${opts.tap}`,
    pid: proc.pid,
    mac: opts.mac.toLowerCase(),
    serialLog: opts.serialLog,
    qemuLog,
    argv: ['qemu-system-x86_64', ...args],
    exited,
    get timedOut() {
      return timedOut;
    },
    kill: async () => {
      await proc.stop();
      await exited;
    },
    serialText: () => {
      try {
        return stripAnsi(readFileSync(opts.serialLog, 'latin1'));
      } catch {
        return '';
      }
    },
  };
}

/**
 * Wait until the VM's serial console matches `re`. Rejects on timeout or when the VM exits without a match;
 * the error carries the end of the console output and QEMU's stderr.
 */
export async function waitForSerial(vm: LabVm, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  let exited = false;
  void vm.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = vm.serialText().match(re);
    if (m) return m;
    if (exited) {
      // One last read: QEMU may have written the match just before exiting.
      const last = vm.serialText().match(re);
      if (last) return last;
      throw new Error(`VM ${vm.name} exited (code ${String(await vm.exited)}) before its console matched ${re}\n${vmDiagnostics(vm)}`);
    }
    if (Date.now() >= deadline) throw new Error(`VM ${vm.name}: console did not match ${re} within ${timeoutMs} ms\n${vmDiagnostics(vm)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The last lines of a VM's console and QEMU's own log, for assertion messages. */
export function vmDiagnostics(vm: LabVm, lines = 40): string {
  const tail = vm.serialText().split('\n').slice(-lines).join('\n');
  let qlog = '';
  try {
    qlog = readFileSync(vm.qemuLog, 'utf8').trim();
  } catch {
    /* none */
  }
  return `--- serial console (last ${lines} lines) ---\n${tail}\n--- qemu stderr ---\n${qlog || '(empty)'}\n--- argv ---\n${vm.argv.join(' ')}`;
}
