// Two network namespaces joined by a veth pair, created for one benchmark run and deleted at its end:
//
//   rb-bench-<pid>-srv   lo up, veth rbb-s 10.250.0.1/16   (the servers)
//   rb-bench-<pid>-cli   lo up, veth rbb-c 10.250.0.2/16   (perfdhcp, TFTP clients)
//
// Nothing is created in the root namespace (the veth is made inside the server namespace with its peer placed
// straight into the client one), there is no default route, and the namespaces are deleted in a finally
// block, on SIGINT/SIGTERM and, synchronously, at process exit. A namespace left by a run that died (its
// creator PID is gone) is deleted by the next run.

import { execFileSync } from 'node:child_process';

export const NS_PREFIX = 'rb-bench-';
export const SERVER_IP = '10.250.0.1';
export const CLIENT_IP = '10.250.0.2';
export const PREFIX_LEN = 16;
export const SERVER_IF = 'rbb-s';
export const CLIENT_IF = 'rbb-c';

export interface BenchNet {
  server: string;
  client: string;
  /** argv for running a command inside a namespace. */
  exec(ns: string, command: string, args?: readonly string[]): { command: string; args: string[] };
  destroy(): void;
}

function ip(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: string | Buffer; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${String(err.stderr ?? '').trim() || err.message}`);
  }
}

function namespaces(): string[] {
  try {
    return ip(['netns', 'list'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills what still runs inside one of our namespaces (only our processes can be there), then deletes it. */
function deleteNamespace(name: string): void {
  if (!namespaces().includes(name)) return;
  let pids: number[] = [];
  try {
    pids = ip(['netns', 'pids', name])
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
  } catch {
    /* none */
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  try {
    ip(['netns', 'del', name]);
  } catch {
    /* best effort; reported by the caller's check */
  }
}

const STALE = /^rb-bench-(\d+)-(srv|cli)$/;

/** Deletes rb-bench-<pid>-* namespaces whose creating process no longer exists. */
export function reapStale(): string[] {
  const removed: string[] = [];
  for (const name of namespaces()) {
    const m = STALE.exec(name);
    if (m === null || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    deleteNamespace(name);
    removed.push(name);
  }
  return removed;
}

const live = new Set<string>();
let hookInstalled = false;

export function createBenchNet(): BenchNet {
  reapStale();
  if (!hookInstalled) {
    hookInstalled = true;
    process.on('exit', () => {
      for (const n of live) deleteNamespace(n);
    });
  }
  const server = `${NS_PREFIX}${process.pid}-srv`;
  const client = `${NS_PREFIX}${process.pid}-cli`;
  const destroy = (): void => {
    for (const n of [server, client]) {
      deleteNamespace(n);
      live.delete(n);
    }
  };
  try {
    for (const n of [server, client]) {
      ip(['netns', 'add', n]);
      live.add(n);
      ip(['-n', n, 'link', 'set', 'lo', 'up']);
    }
    ip(['-n', server, 'link', 'add', SERVER_IF, 'type', 'veth', 'peer', 'name', CLIENT_IF, 'netns', client]);
    ip(['-n', server, 'addr', 'add', `${SERVER_IP}/${PREFIX_LEN}`, 'dev', SERVER_IF]);
    ip(['-n', client, 'addr', 'add', `${CLIENT_IP}/${PREFIX_LEN}`, 'dev', CLIENT_IF]);
    ip(['-n', server, 'link', 'set', SERVER_IF, 'up']);
    ip(['-n', client, 'link', 'set', CLIENT_IF, 'up']);
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    server,
    client,
    exec: (ns, command, args = []) => ({ command: 'ip', args: ['netns', 'exec', ns, command, ...args] }),
    destroy,
  };
}

/** Names of our namespaces that still exist (for the end-of-run check). */
export function leftoverNamespaces(): string[] {
  return namespaces().filter((n) => n.startsWith(`${NS_PREFIX}${process.pid}-`));
}
