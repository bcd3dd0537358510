// Lab network namespace: a private L2 segment for QEMU PXE tests.
//
// Layout (all inside one namespace, nothing in the root namespace is touched):
//   lo up; bridge br0 with 10.250.0.1/24 (configurable, must stay inside 10.250.0.0/16);
//   tap0..tapN-1 enslaved to br0; route 255.255.255.255/32 dev br0 so a UDP socket bound to 0.0.0.0 can
//   send limited broadcasts. There is deliberately NO default route and no veth, so nothing can leave.
// Deleting the namespace removes the bridge and the taps.
//
// Namespace names are `rb-<creator pid>-<random hex>`. A namespace whose creator process is gone (a crashed
// run) is reaped by the next createLabNetns() call (see reapStaleLabNetns).

import { execFileSync, spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Server as TcpServer } from 'node:net';

export const NETNS_PREFIX = 'rb-';
export const LAB_SUPERNET = '10.250.0.0/16';
export const DEFAULT_BRIDGE_CIDR = '10.250.0.1/24';
export const BRIDGE = 'br0';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin (then closed). */
  input?: string | Buffer;
  /** Kill the command (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFailure?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface CreateLabNetnsOptions {
  /** Bridge address with prefix length, inside 10.250.0.0/16. Default 10.250.0.1/24. */
  bridgeCidr?: string;
  /** Number of tap devices (tap0..) to create on the bridge. Default 1. */
  taps?: number;
  /** Reap namespaces left behind by dead processes before creating this one. Default true. */
  reapStale?: boolean;
}

export interface UdpBindOptions {
  reuseAddr?: boolean;
  broadcast?: boolean;
}

export interface LabNetns {
  /** Namespace name, `rb-<pid>-<hex>`. */
  readonly name: string;
  readonly bridge: typeof BRIDGE;
  /** Bridge address without prefix, e.g. 10.250.0.1. */
  readonly address: string;
  readonly prefixLength: number;
  /** Bridge address with prefix, e.g. 10.250.0.1/24. */
  readonly cidr: string;
  readonly taps: readonly string[];
  readonly destroyed: boolean;
  /** argv that runs `command args…` inside the namespace (`ip netns exec <name> …`). */
  wrap(command: string, args?: readonly string[]): { command: string; args: string[] };
  /** Run a command inside the namespace and collect its output; rejects on non-zero exit unless allowFailure. */
  exec(command: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Spawn a command inside the namespace (`ip netns exec` execs it, so child.pid is the command's PID). */
  spawn(command: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /**
   * A listening TCP server socket created inside the namespace and handed to this process, e.g.
   * `http.createServer(handler).listen(await ns.listenTcp(8080))`. The request handlers run in this process.
   */
  listenTcp(port: number, host?: string): Promise<TcpServer>;
  /** A UDP socket bound inside the namespace and handed to this process (same mechanism as listenTcp). */
  bindUdp(port: number, host?: string, opts?: UdpBindOptions): Promise<UdpSocket>;
  /** Kill any process still inside the namespace, then delete it (bridge and taps go with it). Idempotent. */
  destroy(): Promise<void>;
}

interface Cidr {
  address: string;
  prefixLength: number;
}

function parseLabCidr(cidr: string): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new Error(`lab netns: not an IPv4 CIDR: ${cidr}`);
  const octets = [m[1], m[2], m[3], m[4]].map((o) => Number(o));
  const prefixLength = Number(m[5]);
  if (octets.some((o) => o > 255)) throw new Error(`lab netns: not an IPv4 CIDR: ${cidr}`);
  if (octets[0] !== 10 || octets[1] !== 250) {
    throw new Error(`lab netns: ${cidr} is outside ${LAB_SUPERNET}; the lab only uses 10.250.0.0/16`);
  }
  if (prefixLength < 16 || prefixLength > 30) {
    throw new Error(`lab netns: prefix length of ${cidr} must be between 16 and 30`);
  }
  return { address: octets.join('.'), prefixLength };
}

/** Synchronous `ip …` (used for setup, teardown and the exit hook). */
function ipSync(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string };
    const stderr = e.stderr === undefined ? '' : String(e.stderr).trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || e.message}`);
  }
}

function namespaceExists(name: string): boolean {
  return listNamespaces().includes(name);
}

function listNamespaces(): string[] {
  let out: string;
  try {
    out = ipSync(['netns', 'list']);
  } catch {
    return [];
  }
  // Lines look like "rb-123-abcd (id: 4)" or "rb-123-abcd".
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

function pidsInNamespace(name: string): number[] {
  let out: string;
  try {
    out = ipSync(['netns', 'pids', name]);
  } catch {
    return [];
  }
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Every process inside one of OUR namespaces was started by the lab (nothing else can enter it), so killing
 * them by PID is safe. SIGTERM first, SIGKILL after a grace period.
 */
function killNamespaceProcessesSync(name: string, graceMs: number): void {
  let pids = pidsInNamespace(name);
  if (pids.length === 0) return;
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    pids = pids.filter(isAlive);
    if (pids.length === 0) return;
    sleepSync(50);
  }
  for (const pid of pidsInNamespace(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function deleteNamespaceSync(name: string): void {
  killNamespaceProcessesSync(name, 2000);
  if (!namespaceExists(name)) return;
  ipSync(['netns', 'del', name]);
}

const STALE_RE = /^rb-(\d+)-[0-9a-f]+$/;

/**
 * Delete lab namespaces (`rb-<pid>-<hex>`) whose creating process no longer exists, killing whatever still runs
 * inside them. Returns the names removed. Namespaces of live processes (e.g. a parallel test file) are left alone.
 */
export function reapStaleLabNetns(): string[] {
  const removed: string[] = [];
  for (const name of listNamespaces()) {
    const m = STALE_RE.exec(name);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || isAlive(owner)) continue;
    try {
      deleteNamespaceSync(name);
      removed.push(name);
    } catch {
      /* best effort */
    }
  }
  return removed;
}

const live = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last line of defence if a test forgot destroy(): delete our namespaces synchronously at process exit.
  process.on('exit', () => {
    for (const name of live) {
      try {
        deleteNamespaceSync(name);
      } catch {
        /* nothing more we can do at exit */
      }
    }
    live.clear();
  });
}

/** Problems that prevent the lab from running (empty array = OK). */
export function labPrerequisiteProblems(commands: readonly string[] = ['ip']): string[] {
  const problems: string[] = [];
  if (process.platform !== 'linux') problems.push(`not Linux (platform ${process.platform})`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) problems.push('not running as root (uid 0)');
  if (!existsSync('/dev/net/tun')) problems.push('/dev/net/tun is missing');
  for (const cmd of commands) {
    if (findExecutable(cmd) === undefined) problems.push(`command not found: ${cmd}`);
  }
  return problems;
}

/** Absolute path of an executable on PATH (plus /usr/sbin and /sbin), or undefined. */
export function findExecutable(cmd: string): string | undefined {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : undefined;
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d.length > 0);
  for (const d of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!dirs.includes(d)) dirs.push(d);
  for (const d of dirs) {
    const p = join(d, cmd);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Runs inside the namespace: binds a socket and sends its handle to the parent over the IPC channel.
const HANDLE_CHILD = `
const [kind, host, portStr, reuse, bcast] = process.argv.slice(1);
const port = Number(portStr);
const fail = (e) => { process.send({ error: String(e && e.message ? e.message : e) }, () => process.exit(1)); };
if (kind === 'tcp') {
  const s = require('node:net').createServer();
  s.on('error', fail);
  s.listen({ host, port, exclusive: true }, () => {
    process.send({ ok: true, port: s.address().port }, s, () => { s.close(); process.disconnect(); });
  });
} else {
  const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: reuse === '1' });
  s.on('error', fail);
  s.bind({ address: host, port, exclusive: true }, () => {
    if (bcast === '1') s.setBroadcast(true);
    process.send({ ok: true, port: s.address().port }, s, () => { s.close(); process.disconnect(); });
  });
}
`;

class LabNetnsImpl implements LabNetns {
  readonly bridge = BRIDGE;
  private isDestroyed = false;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly prefixLength: number,
    readonly taps: readonly string[],
  ) {}

  get cidr(): string {
    return `${this.address}/${this.prefixLength}`;
  }

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  wrap(command: string, args: readonly string[] = []): { command: string; args: string[] } {
    this.assertAlive();
    return { command: 'ip', args: ['netns', 'exec', this.name, command, ...args] };
  }

  spawn(command: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    const w = this.wrap(command, args);
    return nodeSpawn(w.command, w.args, opts);
  }

  exec(command: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const spawnOpts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] };
    if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
    if (opts.env !== undefined) spawnOpts.env = opts.env;
    const child = this.spawn(command, args, spawnOpts);
    const label = `${command} ${args.join(' ')}`.trim();
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => errOut.push(b));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`netns ${this.name}: ${label}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const res: ExecResult = {
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(errOut).toString('utf8'),
        };
        if (code === 0 || opts.allowFailure === true) resolve(res);
        else reject(new Error(`netns ${this.name}: ${label} exited ${code ?? signal}: ${res.stderr.trim()}`));
      });
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }

  listenTcp(port: number, host: string = this.address): Promise<TcpServer> {
    return this.passHandle<TcpServer>(['tcp', host, String(port), '0', '0']);
  }

  bindUdp(port: number, host = '0.0.0.0', opts: UdpBindOptions = {}): Promise<UdpSocket> {
    return this.passHandle<UdpSocket>(['udp', host, String(port), opts.reuseAddr ? '1' : '0', opts.broadcast ? '1' : '0']);
  }

  private passHandle<T>(argv: string[]): Promise<T> {
    const child = this.spawn(process.execPath, ['-e', HANDLE_CHILD, ...argv], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    return new Promise<T>((resolve, reject) => {
      let stderr = '';
      let settled = false;
      child.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new Error(`netns ${this.name}: timed out binding ${argv.join(' ')}`));
      }, 15_000);
      const finish = (err: Error | undefined, handle?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(handle as T);
      };
      child.on('message', (msg: unknown, handle: unknown) => {
        const m = msg as { ok?: boolean; error?: string };
        if (m.ok === true && handle !== undefined) finish(undefined, handle as T);
        else finish(new Error(`netns ${this.name}: bind ${argv.join(' ')} failed: ${m.error ?? 'no handle'}`));
      });
      child.on('error', (err) => finish(err));
      child.on('exit', (code) => {
        finish(new Error(`netns ${this.name}: bind helper exited ${code}: ${stderr.trim()}`));
      });
    });
  }

  async destroy(): Promise<void> {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    live.delete(this.name);
    // Synchronous on purpose: short, and identical to the exit-hook path.
    deleteNamespaceSync(this.name);
  }

  private assertAlive(): void {
    if (this.isDestroyed) throw new Error(`netns ${this.name} was destroyed`);
  }
}

/**
 * Create a fresh lab namespace. On any setup failure the half-built namespace is deleted before rethrowing.
 */
export async function createLabNetns(opts: CreateLabNetnsOptions = {}): Promise<LabNetns> {
  const { address, prefixLength } = parseLabCidr(opts.bridgeCidr ?? DEFAULT_BRIDGE_CIDR);
  const tapCount = opts.taps ?? 1;
  if (!Number.isInteger(tapCount) || tapCount < 0 || tapCount > 64) throw new Error(`lab netns: bad tap count ${tapCount}`);
  if (opts.reapStale !== false) reapStaleLabNetns();

  const name = `${NETNS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
  const taps = Array.from({ length: tapCount }, (_, i) => `tap${i}`);
  installExitHook();
  ipSync(['netns', 'add', name]);
  live.add(name);
  try {
    ipSync(['-n', name, 'link', 'set', 'lo', 'up']);
    ipSync(['-n', name, 'link', 'add', BRIDGE, 'type', 'bridge']);
    ipSync(['-n', name, 'addr', 'add', `${address}/${prefixLength}`, 'dev', BRIDGE]);
    ipSync(['-n', name, 'link', 'set', BRIDGE, 'up']);
    // Lets a socket bound to 0.0.0.0 send to 255.255.255.255 (a DHCP server). NOT a default route.
    ipSync(['-n', name, 'route', 'add', '255.255.255.255/32', 'dev', BRIDGE]);
    for (const tap of taps) {
      ipSync(['-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      ipSync(['-n', name, 'link', 'set', tap, 'master', BRIDGE, 'up']);
    }
  } catch (err) {
    live.delete(name);
    try {
      deleteNamespaceSync(name);
    } catch {
      /* report the original error */
    }
    throw err;
  }
  return new LabNetnsImpl(name, address, prefixLength, taps);
}
