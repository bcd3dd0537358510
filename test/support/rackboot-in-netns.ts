import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ADMIN_TOKEN_FILE } from '../../server/access/api-tokens.js';
import type { LabNetns } from '../lab/netns.js';
import { waitUntil, type LabProcess, type ProcessRegistry } from '../lab/processes.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface RackbootInNetns {
  process: LabProcess;
  baseUrl: string;
  logFile: string;
  /** The admin token rackboot wrote at first start (`<dataDir>/admin.token`). */
  adminToken(): string;
  /** Runs curl inside the namespace against the API with the admin token; returns the parsed JSON body. */
  api<T = unknown>(method: string, path: string, body?: { type: string; data: string }): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/**
 * Runs `rackboot serve` (from the TypeScript source, via tsx) inside a lab namespace, the way an operator
 * runs it on the provisioning host, and waits until its HTTP port answers.
 */
export async function startRackbootInNetns(opts: { ns: LabNetns; registry: ProcessRegistry; workDir: string; config: Record<string, unknown> }): Promise<RackbootInNetns> {
  mkdirSync(opts.workDir, { recursive: true });
  const configFile = join(opts.workDir, 'rackboot.yaml');
  writeFileSync(configFile, stringify(opts.config));
  const logFile = join(opts.workDir, 'rackboot.log');
  const process = await opts.registry.start({
    name: 'rackboot',
    ns: opts.ns,
    command: join(REPO, 'node_modules/.bin/tsx'),
    args: [join(REPO, 'server/cli/main.ts'), 'serve', '--config', configFile],
    cwd: opts.workDir,
    logFile,
  });
  const port = (opts.config.http as { port?: number } | undefined)?.port ?? 8080;
  const baseUrl = `http://${opts.ns.address}:${port}`;
  const tokenFile = resolve(opts.workDir, (opts.config.dataDir as string | undefined) ?? './data', ADMIN_TOKEN_FILE);
  const adminToken = () => readFileSync(tokenFile, 'utf8').trim();
  const api = async <T>(method: string, path: string, body?: { type: string; data: string }) => {
    const args = ['-sS', '-X', method, '-o', '-', '-w', '\n%{http_code}', `${baseUrl}${path}`];
    if (path !== '/healthz') args.push('-H', `authorization: Bearer ${adminToken()}`);
    if (body) args.push('-H', `content-type: ${body.type}`, '--data-binary', '@-');
    const r = await opts.ns.exec('curl', args, { ...(body ? { input: body.data } : {}), allowFailure: true, timeoutMs: 20_000 });
    const cut = r.stdout.lastIndexOf('\n');
    const status = Number(r.stdout.slice(cut + 1));
    const text = r.stdout.slice(0, cut);
    return { status, body: (text === '' ? null : JSON.parse(text)) as T };
  };
  await waitUntil(
    'rackboot HTTP to answer',
    async () => {
      if (!process.isRunning()) throw new Error(`rackboot exited early; see ${logFile}`);
      return (await api('GET', '/healthz').catch(() => ({ status: 0 }))).status === 200;
    },
    60_000,
    250,
  );
  return { process, baseUrl, logFile, adminToken, api, stop: async () => void (await process.stop()) };
}
