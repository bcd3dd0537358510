import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { MachineTokens } from '../../server/boot/machine-tokens.js';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TSX = join(REPO, 'node_modules/.bin/tsx');
export const CLI = join(REPO, 'server/cli/main.ts');

/** A boot profile that netboots, so script.ipxe moves a machine to booting-installer as on real hardware. */
export const NETBOOT_PROFILE = {
  kernel: 'appliance/kernel',
  initrds: ['appliance/initrd'],
  cmdline: 'rd.neednet=1 ip=dhcp netboot install-mode config_url={{configUrl}}',
  userData: { users: [{ name: 'kairos', passwordHash: '$6$rounds=4096$abcdefgh$NOTAREALHASH', groups: ['admin'] }] },
};

export interface RackbootProcess {
  baseUrl: string;
  workDir: string;
  dataDir: string;
  configFile: string;
  /** The API with the bootstrap admin token when the server wrote one. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** The machine's capability URL for a boot path (`/script.ipxe`, `/callback/install-start`). */
  bootUrl(m: { id: string; tokenGeneration: number }, suffix: string): string;
  adminToken(): string | null;
  log(): string;
  stop(): Promise<void>;
}

/** `rackboot serve` as an operator runs it, on loopback with an ephemeral HTTP port, no DHCP or TFTP. */
export async function startRackbootProcess(extraConfig: Record<string, unknown> = {}): Promise<RackbootProcess> {
  const workDir = mkdtempSync(join(tmpdir(), 'rb-proc-'));
  const dataDir = join(workDir, 'data');
  const configFile = join(workDir, 'rackboot.yaml');
  writeFileSync(
    configFile,
    stringify({
      advertiseAddress: '127.0.0.1',
      dataDir,
      http: { listen: '127.0.0.1', port: 0 },
      https: { listen: '127.0.0.1', port: 0 },
      tftp: { enabled: false },
      dhcp: { mode: 'off' },
      log: { level: 'info' },
      ...extraConfig,
    }),
  );
  const child: ChildProcess = spawn(TSX, [CLI, 'serve', '--config', configFile], { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`rackboot did not start:\n${out}`)), 60_000);
    const check = () => {
      const m = /"address":"127\.0\.0\.1:(\d+)"/.exec(out);
      if (m !== null && out.includes('rackboot is serving')) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => (clearTimeout(timer), fail(new Error(`rackboot exited with ${code}:\n${out}`))));
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const tokens = new MachineTokens(readFileSync(join(dataDir, 'secrets', 'boot-token.key')));
  const adminToken = () => {
    const f = join(dataDir, 'admin.token');
    return existsSync(f) ? readFileSync(f, 'utf8').trim() : null;
  };
  return {
    baseUrl,
    workDir,
    dataDir,
    configFile,
    adminToken,
    async api<T>(method: string, path: string, body?: unknown) {
      const token = adminToken();
      const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'text/csv' : 'application/json';
      const r = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
      const text = await r.text();
      return { status: r.status, body: (text === '' ? null : JSON.parse(text)) as T };
    },
    bootUrl: (m, suffix) => `${baseUrl}/boot/${m.id}/${tokens.tokenFor(m)}${suffix}`,
    log: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the rackboot command as a separate process and collects its output. */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((ok) => {
    const c = spawn(TSX, [CLI, ...args], { cwd: opts.cwd ?? tmpdir(), env: { ...process.env, RACKBOOT_TOKEN: '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (code) => ok({ code, stdout, stderr }));
  });
}
