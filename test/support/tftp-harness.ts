// Shared test plumbing for the TFTP server: a started server with recorded events, a file source that
// counts opens and closes, sha256 of files, and a child-process runner for the real clients.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { directorySource } from '../../server/tftp/directory-source.js';
import { TftpServer, type TftpEvent, type TftpOpenResult, type TftpRequestInfo, type TftpServerOptions } from '../../server/tftp/server.js';

export interface Harness {
  server: TftpServer;
  port: number;
  events: TftpEvent[];
  files: { opened: number; closed: number };
  stop(): Promise<void>;
  /** Resolves when no transfer is active (they end by completion, abort or timeout). */
  idle(timeoutMs?: number): Promise<void>;
}

// Wraps a source so tests can check that every opened file gets closed on every end path.
export function countingSource(
  inner: (req: TftpRequestInfo) => Promise<TftpOpenResult>,
  counts: { opened: number; closed: number },
): (req: TftpRequestInfo) => Promise<TftpOpenResult> {
  return async (req) => {
    const r = await inner(req);
    if (!r.ok) return r;
    counts.opened++;
    const file = r.file;
    let closed = false;
    return {
      ok: true,
      file: {
        size: file.size,
        read: (offset, length) => file.read(offset, length),
        close: async () => {
          if (!closed) counts.closed++;
          closed = true;
          await file.close();
        },
      },
    };
  };
}

export async function startHarness(root: string, extra: Partial<TftpServerOptions> = {}): Promise<Harness> {
  const events: TftpEvent[] = [];
  const files = { opened: 0, closed: 0 };
  const server = new TftpServer({
    host: '127.0.0.1',
    port: 0,
    open: countingSource(directorySource(root), files),
    ...extra,
    onEvent: (ev) => {
      events.push(ev);
      extra.onEvent?.(ev);
    },
  });
  await server.start();
  const idle = async (timeoutMs = 30_000): Promise<void> => {
    const until = Date.now() + timeoutMs;
    while (server.activeTransfers() > 0) {
      if (Date.now() > until) throw new Error(`${server.activeTransfers()} transfers still active`);
      await sleep(20);
    }
  };
  return { server, port: server.address().port, events, files, stop: () => server.stop(), idle };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Runs a client binary with a hard kill after timeoutMs, so a stuck client fails the test instead of
// hanging it.
export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
