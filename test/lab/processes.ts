// Background processes for the lab, tracked by PID.
//
// A ProcessRegistry starts processes (optionally inside a lab namespace via `ip netns exec`, which execs the
// command, so the PID we hold is the command's own PID), remembers them, and stops exactly those PIDs — and, for
// processes started with detached: true (the default), their process group, so helpers they fork (radvd's
// privilege-separation child, for example) go too. Nothing is ever killed by name. Start processes in the
// foreground (no self-daemonizing): when a detached leader exits, the rest of its group is SIGKILLed.
//
// Typical use in a test file:
//   const procs = new ProcessRegistry();
//   afterAll(() => procs.stopAll());
// A process 'exit' hook also SIGKILLs anything a registry still tracks, in case afterAll never ran.

import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LabNetns } from './netns.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** Label used in errors and listings. */
  name: string;
  command: string;
  args?: readonly string[];
  /** Run inside this lab namespace. */
  ns?: LabNetns;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended to this file; without it they are discarded. */
  logFile?: string;
  /** Own process group (default true): stop() then signals the whole group. */
  detached?: boolean;
  /** First signal sent by stop(); default SIGTERM. SIGKILL follows after stopTimeoutMs. */
  stopSignal?: NodeJS.Signals;
  /** Default 5000 ms. */
  stopTimeoutMs?: number;
}

export interface LabProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly detached: boolean;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** Set once the process has exited. */
  readonly exit: ProcessExit | undefined;
  isRunning(): boolean;
  /** Signal the process (its group when detached); no-op once it has exited. */
  signal(sig: NodeJS.Signals): void;
  /**
   * stopSignal, wait up to stopTimeoutMs, then SIGKILL; resolves with the exit status. Idempotent. When a detached
   * process's leader exits (by itself or stopped), its process group is SIGKILLed at once.
   */
  stop(): Promise<ProcessExit>;
}

const registries = new Set<ProcessRegistry>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const reg of registries) reg.killAllSync();
  });
}

class TrackedProcess implements LabProcess {
  readonly exited: Promise<ProcessExit>;
  private exitInfo: ProcessExit | undefined;
  private stopping: Promise<ProcessExit> | undefined;

  constructor(
    readonly name: string,
    readonly pid: number,
    readonly child: ChildProcess,
    readonly detached: boolean,
    private readonly stopSignal: NodeJS.Signals,
    private readonly stopTimeoutMs: number,
    onExit: () => void,
  ) {
    this.exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => {
        // The leader is gone: take whatever it forked with it, right now, while the group id is certainly still
        // ours (Linux does not reuse a PID that is a live process-group id). After this we never signal again.
        if (this.detached) {
          try {
            process.kill(-this.pid, 'SIGKILL');
          } catch {
            /* no group members left */
          }
        }
        this.exitInfo = { code, signal };
        onExit();
        resolve(this.exitInfo);
      });
    });
  }

  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  isRunning(): boolean {
    return this.exitInfo === undefined;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exitInfo !== undefined) return;
    if (this.detached) {
      try {
        process.kill(-this.pid, sig);
        return;
      } catch {
        /* fall through to the leader */
      }
    }
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  stop(): Promise<ProcessExit> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.exitInfo !== undefined) return this.exitInfo;
      this.signal(this.stopSignal);
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), this.stopTimeoutMs).unref()),
      ]);
      if (timedOut) this.signal('SIGKILL');
      return this.exited;
    })();
    return this.stopping;
  }

  killSync(): void {
    this.signal('SIGKILL');
  }
}

export class ProcessRegistry {
  private readonly procs = new Set<TrackedProcess>();

  constructor() {
    installExitHook();
    registries.add(this);
  }

  /** Start a process and wait until it has been spawned (rejects if the executable cannot be started). */
  async start(opts: StartProcessOptions): Promise<LabProcess> {
    const args = [...(opts.args ?? [])];
    const detached = opts.detached ?? true;
    let fd: number | undefined;
    let stdio: StdioOptions = 'ignore';
    if (opts.logFile !== undefined) {
      mkdirSync(dirname(opts.logFile), { recursive: true });
      fd = openSync(opts.logFile, 'a');
      stdio = ['ignore', fd, fd];
    }
    const spawnOpts: SpawnOptions = { stdio, detached };
    if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
    if (opts.env !== undefined) spawnOpts.env = opts.env;
    let child: ChildProcess;
    try {
      child = opts.ns ? opts.ns.spawn(opts.command, args, spawnOpts) : spawn(opts.command, args, spawnOpts);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(new Error(`${opts.name}: cannot start ${opts.command}: ${err.message}`)));
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${opts.name}: no PID after spawn`);
    return this.track(child, opts.name, {
      detached,
      stopSignal: opts.stopSignal ?? 'SIGTERM',
      stopTimeoutMs: opts.stopTimeoutMs ?? 5000,
    });
  }

  /** Track a child that was spawned elsewhere (it must already have a PID). */
  track(
    child: ChildProcess,
    name: string,
    opts: { detached: boolean; stopSignal?: NodeJS.Signals; stopTimeoutMs?: number },
  ): LabProcess {
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${name}: cannot track a child without a PID`);
    child.on('error', () => {
      /* reported through exit */
    });
    const p: TrackedProcess = new TrackedProcess(
      name,
      pid,
      child,
      opts.detached,
      opts.stopSignal ?? 'SIGTERM',
      opts.stopTimeoutMs ?? 5000,
      () => this.procs.delete(p),
    );
    this.procs.add(p);
    return p;
  }

  list(): LabProcess[] {
    return [...this.procs];
  }

  /** Stop one process (it is forgotten once it has exited). */
  stop(p: LabProcess): Promise<ProcessExit> {
    return p.stop();
  }

  /** Stop everything this registry started (in parallel). Never rejects. */
  async stopAll(): Promise<void> {
    const all = [...this.procs];
    await Promise.all(all.map((p) => p.stop().catch(() => undefined)));
    for (const p of all) this.procs.delete(p);
  }

  /** SIGKILL everything still tracked (synchronous; used by the exit hook). */
  killAllSync(): void {
    for (const p of this.procs) p.killSync();
    this.procs.clear();
  }
}

/** Poll `check` until it returns a value other than undefined/false, or reject after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
