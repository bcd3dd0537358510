// Processes the benchmark starts, tracked by PID. Background servers run in their own process group
// (detached), so stop() can signal the group (nginx workers, tftpd-hpa's per-transfer children) and nothing
// is ever killed by name. An exit hook SIGKILLs whatever is still tracked if the run dies early.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  ms: number;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** Runs a command to completion (SIGKILL after timeoutMs) and collects its output. Never rejects on exit status. */
export function run(command: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, [...args], { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - started,
        timedOut,
      });
    });
    if (child.stdin !== null) {
      // A command that exits without reading its input must not turn into an EPIPE crash.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/** Like run(), but rejects unless the command exits 0. */
export async function runOk(command: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const r = await run(command, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exited ${r.code ?? r.signal}`;
    throw new Error(`${command} ${args.join(' ')} ${why}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  }
  return r;
}

export interface BgProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  running(): boolean;
  /** CPU seconds (user + system) used so far by every live process in its process group. */
  cpuSeconds(): number;
  /** SIGTERM to the group, SIGKILL after graceMs; resolves when the leader has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const tracked = new Set<Tracked>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const p of tracked) p.killNow();
  });
}

class Tracked implements BgProcess {
  private exited = false;
  private readonly done: Promise<void>;
  private stopping: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly pid: number,
    readonly logFile: string,
    child: ChildProcess,
  ) {
    this.done = new Promise((resolve) => {
      child.once('exit', () => {
        this.exited = true;
        // Take anything the leader forked with it while the group id is certainly still ours.
        signalGroup(this.pid, 'SIGKILL');
        tracked.delete(this);
        resolve();
      });
    });
  }

  running(): boolean {
    return !this.exited;
  }

  cpuSeconds(): number {
    return this.exited ? 0 : groupCpuSeconds(this.pid);
  }

  stop(graceMs = 5000): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      if (this.exited) return;
      signalGroup(this.pid, 'SIGTERM');
      const timedOut = await Promise.race([this.done.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) signalGroup(this.pid, 'SIGKILL');
      await this.done;
    })();
    return this.stopping;
  }

  killNow(): void {
    if (!this.exited) signalGroup(this.pid, 'SIGKILL');
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    try {
      process.kill(pgid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Starts a long-running command in its own process group with stdout and stderr appended to logFile. */
export async function startBackground(name: string, command: string, args: readonly string[], opts: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<BgProcess> {
  installExitHook();
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, [...args], { stdio: ['ignore', fd, fd], detached: true, cwd: opts.cwd, env: opts.env });
  } finally {
    closeSync(fd);
  }
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (e) => reject(new Error(`${name}: cannot start ${command}: ${e.message}`)));
  });
  if (child.pid === undefined) throw new Error(`${name}: no PID after spawn`);
  const p = new Tracked(name, child.pid, opts.logFile, child);
  tracked.add(p);
  return p;
}

/** Stops every background process still tracked (in parallel). Never rejects. */
export async function stopAllBackground(): Promise<void> {
  await Promise.all([...tracked].map((p) => p.stop(3000).catch(() => undefined)));
}

/** Sum of utime + stime over the live processes whose process group is pgid, in seconds. */
export function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state ppid pgrp ... utime(14) stime(15).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) !== pgid) continue;
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls check() until it returns true; rejects after timeoutMs with what was awaited. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
