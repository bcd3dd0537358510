// The machine behind one virtual BMC: power state, boot override, virtual media slots, and the
// QEMU process (or, with backend 'simulated', no process at all: the state machine alone, the way
// sushy-tools' fake driver serves Redfish without a hypervisor).
//
// Power model. A QEMU process exists exactly while PowerState is On. QEMU runs with -no-reboot, so
// a guest reboot ends the process; the machine then starts a new one with the persistent boot order
// (disk first). This is what makes a one-time override real: it is applied when the process
// starts and consumed by that start, so the installer's reboot boots the disk.
//   On / ForceOn        spawn QEMU with the pending override (no-op when On)
//   ForceOff            QMP quit
//   GracefulShutdown    QMP system_powerdown (ACPI power button); when the guest has not powered
//                       off after gracefulShutdownTimeoutMs the machine is forced off (the lab's
//                       guests have no ACPI daemon, so this is the usual outcome there)
//   PushPowerButton     GracefulShutdown when On, On when Off
//   ForceRestart, PowerCycle   ForceOff then On (a new start: the override applies)
//   GracefulRestart     GracefulShutdown (with the same fallback) then On
//   Nmi                 QMP inject-nmi

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchImage, MediaFetchError } from './media-fetch.js';
import { buildQemuArgs, cdromDeviceId, OVMF_VARS, type BootDevice, type BootModeName, type NicBoot } from './qemu-command.js';
import { QmpClient } from './qmp-client.js';

export type PowerState = 'On' | 'Off';
export type OverrideEnabled = 'Disabled' | 'Once' | 'Continuous';
export type MachineBackend = 'qemu' | 'simulated';

export const RESET_TYPES = ['On', 'ForceOn', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle', 'Nmi', 'PushPowerButton'] as const;
export type ResetType = (typeof RESET_TYPES)[number];

/** Override targets the machine can act on, and the device each one boots. */
export const TARGET_DEVICE: Record<string, BootDevice | undefined> = {
  None: undefined,
  Pxe: 'net',
  UefiHttp: 'net',
  Cd: 'cdrom',
  UsbCd: 'cdrom',
  Hdd: 'disk',
};

export interface MachineSpec {
  name: string;
  backend: MachineBackend;
  uuid: string;
  serialNumber: string;
  manufacturer: string;
  model: string;
  memoryMb: number;
  cpus: number;
  /** Firmware at first start: seabios = Legacy, ovmf = UEFI. A Boot PATCH of the mode switches it. */
  firmware: 'seabios' | 'ovmf';
  nicBoot: NicBoot;
  nics: { mac: string; tap?: string }[];
  disks: { path: string; sizeBytes: number; serial: string }[];
  /** Persistent boot order (used when no override is pending). */
  bootOrder: BootDevice[];
  mediaSlots: number;
  workDir: string;
  gracefulShutdownTimeoutMs: number;
  qemuBinary: string;
  extraQemuArgs: string[];
}

export interface BootSettings {
  target: string;
  enabled: OverrideEnabled;
  mode: BootModeName;
  httpBootUri?: string;
}

export interface MediaSlot {
  image?: string;
  file?: string;
  inserted: boolean;
  writeProtected: boolean;
  transferProtocolType?: string;
}

/** One start of the machine, as the firmware saw it. */
export interface BootRecord {
  seq: number;
  at: string;
  reason: 'power-on' | 'reset' | 'guest-reboot';
  /** The device the firmware tries first. */
  device: BootDevice | undefined;
  order: BootDevice[];
  mode: BootModeName;
  nicBoot: NicBoot;
  /** The override target consumed or used by this start, if any. */
  override?: string;
  media: (string | undefined)[];
}

export class MachineError extends Error {
  constructor(
    readonly code: 'VBMC_QEMU_START' | 'VBMC_BAD_STATE' | 'VBMC_MEDIA' | 'VBMC_QMP',
    message: string,
    readonly httpStatus = 500,
  ) {
    super(message);
    this.name = 'MachineError';
  }
}

interface Run {
  gen: number;
  proc?: ChildProcess;
  qmp?: QmpClient;
  shutdownReason?: string;
  exited: Promise<void>;
  stopping: boolean;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

export class VirtualMachine extends EventEmitter {
  power: PowerState = 'Off';
  readonly boot: BootSettings;
  readonly media: MediaSlot[];
  readonly boots: BootRecord[] = [];
  private run: Run | undefined;
  private gen = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private mediaSeq = 0;
  private closed = false;
  readonly ovmfVars: string;
  readonly serialLog: string;

  constructor(
    readonly spec: MachineSpec,
    private readonly log: Logger,
  ) {
    super();
    this.boot = { target: 'None', enabled: 'Disabled', mode: spec.firmware === 'ovmf' ? 'UEFI' : 'Legacy' };
    this.media = Array.from({ length: spec.mediaSlots }, () => ({ inserted: false, writeProtected: true }));
    mkdirSync(join(spec.workDir, 'media'), { recursive: true });
    this.serialLog = join(spec.workDir, 'serial.log');
    this.ovmfVars = join(spec.workDir, 'OVMF_VARS.fd');
    for (const d of spec.disks) {
      if (!existsSync(d.path)) {
        writeFileSync(d.path, '');
        truncateSync(d.path, d.sizeBytes);
      }
    }
  }

  /** Disk sizes as the guest sees them (the file size). */
  diskSize(i: number): number {
    const d = this.spec.disks[i];
    if (d === undefined) return 0;
    try {
      return statSync(d.path).size;
    } catch {
      return d.sizeBytes;
    }
  }

  /** Runs power operations one at a time. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  // ---------------------------------------------------------------------------------------------
  // Power

  async reset(type: ResetType): Promise<void> {
    if (this.closed) throw new MachineError('VBMC_BAD_STATE', 'the virtual machine is shut down');
    switch (type) {
      case 'On':
      case 'ForceOn':
        return this.exclusive(() => this.powerOn('power-on'));
      case 'ForceOff':
        return this.exclusive(() => this.stop());
      case 'GracefulShutdown':
        return this.exclusive(() => this.gracefulShutdown(false));
      case 'PushPowerButton':
        return this.exclusive(() => (this.power === 'On' ? this.gracefulShutdown(false) : this.powerOn('power-on')));
      case 'ForceRestart':
      case 'PowerCycle':
        return this.exclusive(async () => {
          await this.stop();
          await this.powerOn('reset');
        });
      case 'GracefulRestart':
        return this.exclusive(() => this.gracefulShutdown(true));
      case 'Nmi':
        return this.exclusive(async () => {
          if (this.run?.qmp !== undefined) await this.run.qmp.execute('inject-nmi');
        });
    }
  }

  private planStart(reason: BootRecord['reason']): { order: BootDevice[]; nicBoot: NicBoot; record: BootRecord } {
    const active = this.boot.enabled !== 'Disabled' && this.boot.target !== 'None';
    const first = active ? TARGET_DEVICE[this.boot.target] : undefined;
    const override = active ? this.boot.target : undefined;
    // A guest reboot is not a new power-on from the BMC's point of view, but a Once override is
    // consumed by the first start either way.
    if (active && this.boot.enabled === 'Once') this.boot.enabled = 'Disabled';
    const order = first === undefined ? [...this.spec.bootOrder] : [first, ...this.spec.bootOrder.filter((d) => d !== first)];
    let nicBoot: NicBoot = this.spec.nicBoot;
    if (override === 'UefiHttp') nicBoot = 'firmware-http';
    if (this.boot.mode === 'Legacy') nicBoot = 'ipxe-rom'; // SeaBIOS has no network stack of its own
    const record: BootRecord = {
      seq: this.boots.length + 1,
      at: new Date().toISOString(),
      reason,
      device: order[0],
      order,
      mode: this.boot.mode,
      nicBoot,
      ...(override === undefined ? {} : { override }),
      media: this.media.map((m) => (m.inserted ? m.image : undefined)),
    };
    return { order, nicBoot, record };
  }

  private async powerOn(reason: BootRecord['reason']): Promise<void> {
    if (this.power === 'On') return;
    const plan = this.planStart(reason);
    if (this.spec.backend === 'qemu') await this.startQemu(plan.order, plan.nicBoot);
    this.power = 'On';
    this.boots.push(plan.record);
    this.log.info(`vbmc ${this.spec.name}: power on (${reason}), boot ${plan.record.device ?? 'nothing'}${plan.record.override === undefined ? '' : ` (override ${plan.record.override})`}, ${plan.record.mode}`);
    this.emit('boot', plan.record);
  }

  private async startQemu(order: BootDevice[], nicBoot: NicBoot): Promise<void> {
    const s = this.spec;
    if (this.boot.mode === 'UEFI' && !existsSync(this.ovmfVars)) copyFileSync(OVMF_VARS, this.ovmfVars);
    const qmpSocket = join(s.workDir, 'qmp.sock');
    rmSync(qmpSocket, { force: true });
    if (!existsSync(this.serialLog)) writeFileSync(this.serialLog, '');
    const args = buildQemuArgs({
      name: s.name,
      uuid: s.uuid,
      serialNumber: s.serialNumber,
      manufacturer: s.manufacturer,
      productName: s.model,
      memoryMb: s.memoryMb,
      cpus: s.cpus,
      mode: this.boot.mode,
      ...(this.boot.mode === 'UEFI' ? { ovmfVars: this.ovmfVars } : {}),
      nics: s.nics.map((n) => {
        if (n.tap === undefined) throw new MachineError('VBMC_QEMU_START', `NIC ${n.mac} has no tap device`);
        return { mac: n.mac, tap: n.tap };
      }),
      nicBoot,
      disks: s.disks.map((d) => ({ path: d.path, serial: d.serial })),
      cdroms: this.media.map((m) => (m.inserted ? m.file : undefined)),
      order,
      serialLog: this.serialLog,
      qmpSocket,
      extraArgs: s.extraQemuArgs,
    });
    const qemuLog = join(s.workDir, 'qemu.log');
    const fd = openSync(qemuLog, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(s.qemuBinary, args, { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const gen = ++this.gen;
    let exitedResolve!: () => void;
    const run: Run = { gen, proc, exited: new Promise<void>((r) => (exitedResolve = r)), stopping: false };
    this.run = run;
    let spawnError: Error | undefined;
    proc.once('error', (e) => {
      spawnError = e;
    });
    proc.once('exit', () => {
      exitedResolve();
      run.qmp?.close();
      this.onExit(run);
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (spawnError !== undefined || proc.exitCode !== null || proc.signalCode !== null) {
        await run.exited.catch(() => undefined);
        const tail = readTail(qemuLog);
        throw new MachineError('VBMC_QEMU_START', `QEMU did not start${spawnError === undefined ? '' : ` (${spawnError.message})`}: ${tail}`);
      }
      if (existsSync(qmpSocket)) {
        const qmp = new QmpClient();
        try {
          await qmp.connect(qmpSocket, 5000);
          run.qmp = qmp;
          qmp.on('event', (e: { event: string; data?: Record<string, unknown> }) => {
            if (e.event === 'SHUTDOWN' && typeof e.data?.['reason'] === 'string') run.shutdownReason = e.data['reason'];
          });
          break;
        } catch {
          qmp.close();
        }
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new MachineError('VBMC_QEMU_START', `QEMU's QMP socket did not come up within 15 s`);
      }
      await sleep(50);
    }
  }

  private onExit(run: Run): void {
    if (this.run !== run) return;
    this.run = undefined;
    this.power = 'Off';
    if (run.stopping || this.closed) return;
    const reason = run.shutdownReason ?? 'unknown';
    this.log.info(`vbmc ${this.spec.name}: QEMU exited (${reason})`);
    if (reason === 'guest-reset') {
      // -no-reboot turned the guest's reboot into an exit: start again, as the hardware would.
      void this.exclusive(() => this.powerOn('guest-reboot')).catch((e: unknown) => this.log.warn(`vbmc ${this.spec.name}: restart after guest reboot failed: ${String(e)}`));
    }
  }

  /** ForceOff. */
  private async stop(): Promise<void> {
    if (this.power === 'Off') return;
    const run = this.run;
    this.power = 'Off';
    this.run = undefined;
    if (run === undefined) return; // simulated
    run.stopping = true;
    try {
      await run.qmp?.execute('quit');
    } catch {
      /* the process may already be going */
    }
    const quit = await Promise.race([run.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!quit) {
      run.proc?.kill('SIGKILL');
      await run.exited;
    }
  }

  /** ACPI power button; forced off after the grace period. With `thenOn`, powered on again afterwards. */
  private async gracefulShutdown(thenOn: boolean): Promise<void> {
    if (this.power === 'Off') {
      if (thenOn) await this.powerOn('reset');
      return;
    }
    const run = this.run;
    if (run === undefined) {
      // Simulated guests honour the ACPI request at once.
      this.power = 'Off';
      if (thenOn) await this.powerOn('reset');
      return;
    }
    run.stopping = true; // the vbmc decides what happens after this exit, not onExit
    await run.qmp?.execute('system_powerdown').catch(() => undefined);
    void (async () => {
      const off = await Promise.race([run.exited.then(() => true), sleep(this.spec.gracefulShutdownTimeoutMs).then(() => false)]);
      await this.exclusive(async () => {
        if (!off && this.run === run) {
          this.log.info(`vbmc ${this.spec.name}: guest ignored the ACPI power button for ${this.spec.gracefulShutdownTimeoutMs} ms; forcing off`);
          await this.stop();
        }
        if (thenOn && this.power === 'Off') await this.powerOn('reset');
      });
    })().catch((e: unknown) => this.log.warn(`vbmc ${this.spec.name}: graceful shutdown: ${String(e)}`));
  }

  /** Simulated backend only: what a guest does on its own (an installer rebooting or powering off). */
  async simulateGuest(action: 'reboot' | 'poweroff'): Promise<void> {
    if (this.spec.backend !== 'simulated') throw new MachineError('VBMC_BAD_STATE', 'guest actions are simulated only without QEMU', 409);
    await this.exclusive(async () => {
      if (this.power === 'Off') throw new MachineError('VBMC_BAD_STATE', 'the machine is off', 409);
      this.power = 'Off';
      if (action === 'reboot') await this.powerOn('guest-reboot');
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Boot override

  setBoot(change: Partial<BootSettings>): void {
    if (change.target !== undefined) this.boot.target = change.target;
    if (change.enabled !== undefined) this.boot.enabled = change.enabled;
    if (change.mode !== undefined) this.boot.mode = change.mode;
    if (change.httpBootUri !== undefined) this.boot.httpBootUri = change.httpBootUri;
  }

  // ---------------------------------------------------------------------------------------------
  // Virtual media

  /** Downloads the image and attaches it to the slot (QMP medium change when running). */
  async insertMedia(slot: number, image: string, opts: { writeProtected?: boolean; transferProtocolType?: string } = {}): Promise<void> {
    const m = this.media[slot];
    if (m === undefined) throw new MachineError('VBMC_MEDIA', `no virtual media slot ${slot}`, 404);
    const file = join(this.spec.workDir, 'media', `slot${slot}-${++this.mediaSeq}.iso`);
    try {
      await fetchImage(image, file);
    } catch (err) {
      const status = err instanceof MediaFetchError && err.code === 'VBMC_MEDIA_URL' ? 400 : 400;
      throw new MachineError('VBMC_MEDIA', `could not fetch ${image}: ${err instanceof Error ? err.message : String(err)}`, status);
    }
    await this.exclusive(async () => {
      const old = m.file;
      const qmp = this.run?.qmp;
      if (qmp !== undefined) {
        try {
          await qmp.execute('blockdev-change-medium', { id: cdromDeviceId(slot), filename: file, format: 'raw', 'read-only-mode': 'read-only' });
        } catch (err) {
          rmSync(file, { force: true });
          throw new MachineError('VBMC_QMP', `attaching ${image}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      m.image = image;
      m.file = file;
      m.inserted = true;
      m.writeProtected = opts.writeProtected ?? true;
      if (opts.transferProtocolType !== undefined) m.transferProtocolType = opts.transferProtocolType;
      else delete m.transferProtocolType;
      if (old !== undefined && old !== file) rmSync(old, { force: true });
      this.log.info(`vbmc ${this.spec.name}: slot ${slot} holds ${image}${qmp === undefined ? ' (attached at the next start)' : ''}`);
    });
  }

  async ejectMedia(slot: number): Promise<void> {
    const m = this.media[slot];
    if (m === undefined) throw new MachineError('VBMC_MEDIA', `no virtual media slot ${slot}`, 404);
    await this.exclusive(async () => {
      const qmp = this.run?.qmp;
      if (qmp !== undefined && m.inserted) {
        try {
          await qmp.execute('eject', { id: cdromDeviceId(slot), force: true });
        } catch (err) {
          throw new MachineError('VBMC_QMP', `ejecting slot ${slot}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (m.file !== undefined) rmSync(m.file, { force: true });
      delete m.image;
      delete m.file;
      delete m.transferProtocolType;
      m.inserted = false;
    });
  }

  /** QMP query-block of the running QEMU (for tests and the admin endpoint). */
  async queryBlock(): Promise<unknown> {
    const qmp = this.run?.qmp;
    if (qmp === undefined) return undefined;
    return qmp.execute('query-block');
  }

  get qemuPid(): number | undefined {
    return this.run?.proc?.pid;
  }

  /** Stops QEMU (if running) and refuses further operations. */
  async close(): Promise<void> {
    await this.exclusive(() => this.stop());
    this.closed = true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function readTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' | ') || '(no output)';
  } catch {
    return '(no output)';
  }
}
