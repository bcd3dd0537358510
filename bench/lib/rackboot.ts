// Runs the compiled `rackboot serve` (dist/server/cli/main.js, the same entry an operator runs) inside the
// server namespace with a generated config file, and waits until the listeners it needs are up.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ADMIN_TOKEN_FILE } from '../../server/access/api-tokens.js';
import { MachineTokens } from '../../server/boot/machine-tokens.js';
import type { BenchNet } from './netns.js';
import { runOk, startBackground, waitFor, type BgProcess } from './procs.js';

/** dist/server/cli/main.js, next to this compiled file's dist/bench/lib/. */
export const RACKBOOT_CLI = fileURLToPath(new URL('../../server/cli/main.js', import.meta.url));

export type Listener = 'HTTP' | 'TFTP' | 'DHCP';

export interface RackbootRun {
  proc: BgProcess;
  dataDir: string;
  /** curl inside the server namespace against http://127.0.0.1:<port>; returns status and body. */
  api(method: string, path: string, json?: unknown): Promise<{ status: number; body: string }>;
}

export async function startRackboot(net: BenchNet, dir: string, config: Record<string, unknown>, wait: readonly Listener[]): Promise<RackbootRun> {
  if (!existsSync(RACKBOOT_CLI)) throw new Error(`${RACKBOOT_CLI} is missing: build first (npm run build)`);
  mkdirSync(dir, { recursive: true });
  const dataDir = join(dir, 'data');
  const full = { dataDir, log: { level: 'info' }, ...config };
  const cfgFile = join(dir, 'rackboot.yaml');
  writeFileSync(cfgFile, stringify(full));
  const logFile = join(dir, 'rackboot.log');
  const x = net.exec(net.server, process.execPath, [RACKBOOT_CLI, 'serve', '--config', cfgFile]);
  const proc = await startBackground('rackboot', x.command, x.args, { logFile, cwd: dir });
  const port = ((config.http as { port?: number } | undefined)?.port ?? 8080).toString();
  try {
    await waitFor(
      `rackboot ${wait.join(', ')} listening (log: ${logFile})`,
      () => {
        if (!proc.running()) throw new Error(`rackboot exited during start-up; see ${logFile}:\n${tail(logFile)}`);
        const log = readFileSync(logFile, 'utf8');
        if (log.includes('cannot bind')) throw new Error(`rackboot could not bind a port; see ${logFile}:\n${tail(logFile)}`);
        return wait.every((l) => log.includes(`"msg":"${l} listening"`));
      },
      30_000,
      100,
    );
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const api = async (method: string, path: string, json?: unknown): Promise<{ status: number; body: string }> => {
    const token = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
    const args = ['-sS', '-X', method, '-o', '-', '-w', '\n%{http_code}', '-H', `authorization: Bearer ${token}`, `http://127.0.0.1:${port}${path}`];
    if (json !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', '@-');
    const c = net.exec(net.server, 'curl', args);
    const r = await runOk(c.command, c.args, { timeoutMs: 20_000, ...(json !== undefined ? { input: JSON.stringify(json) } : {}) });
    const cut = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
  };
  return { proc, dataDir, api };
}

export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Creates the bench machine and returns its boot base URL, `http://host:port/boot/<id>/<token>`. */
export async function benchMachineBaseUrl(rb: RackbootRun, port: number): Promise<string> {
  const created = await rb.api('POST', '/api/v1/machines', { name: 'bench', macs: ['02:00:00:00:00:01'] });
  if (created.status !== 201) throw new Error(`creating the bench machine: HTTP ${created.status} ${created.body.slice(0, 300)}`);
  const machine = JSON.parse(created.body) as { id: string; tokenGeneration: number };
  const tokens = new MachineTokens(readFileSync(join(rb.dataDir, 'secrets', 'boot-token.key')));
  return `http://127.0.0.1:${port}/boot/${machine.id}/${tokens.tokenFor(machine)}`;
}

/** One whole download inside the server namespace, checked by sha256; also warms server and page cache. */
export async function verifyDownload(net: BenchNet, name: string, url: string, sha256: string): Promise<number> {
  const x = net.exec(net.server, 'sh', ['-c', 'curl -sS --fail "$1" | sha256sum', 'sh', url]);
  const r = await runOk(x.command, x.args, { timeoutMs: 300_000 });
  const got = r.stdout.trim().split(/\s+/)[0];
  if (got !== sha256) throw new Error(`${name} served different bytes (sha256 ${got}, expected ${sha256})`);
  return r.ms;
}
