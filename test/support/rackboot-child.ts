// `rackboot serve` as a child process that a test can SIGKILL: node itself runs rackboot with tsx's
// loader, not the tsx wrapper (which would die alone and leave its child running).

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI, REPO } from './rackboot-process.js';

export interface RackbootChild {
  proc: ChildProcess;
  api: string;
  out: () => string;
}

export async function startRackbootChild(config: string, cwd: string): Promise<RackbootChild> {
  const tsx = join(REPO, 'node_modules/tsx/dist');
  const proc = spawn(process.execPath, ['--require', join(tsx, 'preflight.cjs'), '--import', pathToFileURL(join(tsx, 'loader.mjs')).href, CLI, 'serve', '--config', config], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`rackboot did not start:\n${out}`)), 90_000);
    const check = () => {
      const m = /"address":"127\.0\.0\.1:(\d+)"/.exec(out);
      if (m !== null && out.includes('rackboot is serving')) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => (clearTimeout(timer), fail(new Error(`rackboot exited with ${code}:\n${out}`))));
  });
  return { proc, api: `http://127.0.0.1:${port}`, out: () => out };
}

export async function killRackbootChild(c: RackbootChild): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.proc.once('exit', () => r()));
  c.proc.kill('SIGKILL');
  await gone;
}
