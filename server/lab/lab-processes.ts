// The lab's long-lived processes: started detached inside the namespace (they outlive `lab up`),
// recorded by PID and start time, and stopped by exactly that PID (and its process group, which holds
// the QEMU children of the vbmc) — a PID the kernel has since reused for something else is left alone.

import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface LabProcessRecord {
  name: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells this process from a later one with the same PID. */
  startTime: string;
  logFile: string;
}

export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** True while the recorded process (the same one, not a reused PID) exists. */
export function isRecordedAlive(p: Pick<LabProcessRecord, 'pid' | 'startTime'>): boolean {
  return processStartTime(p.pid) === p.startTime;
}

export interface SpawnInNamespace {
  name: string;
  namespace: string;
  command: string;
  args: readonly string[];
  cwd: string;
  logFile: string;
  /** Adds an IPC channel (the API forwarder receives its listening socket over it). */
  ipc?: boolean;
}

/** `ip netns exec` execs the command, so the PID returned is the command's own. */
export function spawnInNamespace(o: SpawnInNamespace): { record: LabProcessRecord; child: ReturnType<typeof spawn> } {
  const fd = openSync(o.logFile, 'a');
  const stdio: StdioOptions = o.ipc === true ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd];
  try {
    const child = spawn('ip', ['netns', 'exec', o.namespace, o.command, ...o.args], { cwd: o.cwd, detached: true, stdio });
    if (child.pid === undefined) throw new Error(`${o.name} did not start (see ${o.logFile})`);
    child.unref();
    return { record: { name: o.name, pid: child.pid, startTime: processStartTime(child.pid) ?? '', logFile: o.logFile }, child };
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM to the recorded process, up to `graceMs` for it to exit (the vbmc powers its VMs off), then
 * SIGKILL to its process group. Returns what happened, for the report.
 */
export async function stopRecorded(p: LabProcessRecord, graceMs: number): Promise<'not running' | 'stopped' | 'killed'> {
  if (!isRecordedAlive(p)) return 'not running';
  signal(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRecordedAlive(p)) {
      signal(-p.pid, 'SIGKILL'); // whatever it left in its group
      return 'stopped';
    }
    await sleep(100);
  }
  signal(-p.pid, 'SIGKILL');
  signal(p.pid, 'SIGKILL');
  while (isRecordedAlive(p)) await sleep(50);
  return 'killed';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}
