import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, NETBOOT_PROFILE, runCli, startRackbootProcess, TSX, type RackbootProcess } from '../support/rackboot-process.js';

// The API commands of `rackboot` run as real processes against a real `rackboot serve` on loopback:
// tables for people, JSON/YAML for scripts, and the documented exit codes.

let rb: RackbootProcess;
let common: string[];

beforeAll(async () => {
  rb = await startRackbootProcess({ boot: { defaultProfile: 'appliance' }, profiles: { appliance: NETBOOT_PROFILE } });
  // The server comes from --server; the token from <dataDir>/admin.token through --config.
  common = ['--server', rb.baseUrl, '--config', rb.configFile];
});
afterAll(async () => rb?.stop());

interface MachineJson {
  id: string;
  name: string;
  state: string;
  rack: string | null;
  tokenGeneration: number;
}

describe('rackboot machines', () => {
  it('imports an inventory file, all or nothing, naming each bad line', async () => {
    const good = join(rb.workDir, 'rack.csv');
    writeFileSync(good, 'name,macs,rack,role\ncp-1,02:00:00:00:10:01,r1,control-plane\ncp-2,02:00:00:00:10:02,r1,control-plane\nw-1,02:00:00:00:10:03,r2,worker\n');
    const ok = await runCli(['machines', 'import', good, ...common]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('imported 3 machines: cp-1, cp-2, w-1\n');

    const bad = join(rb.workDir, 'bad.yaml');
    writeFileSync(bad, '- name: w-2\n  macs: ["02:00:00:00:10:04"]\n- name: w-3\n  macs: ["not-a-mac"]\n');
    const refused = await runCli(['machines', 'import', bad, ...common]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Invalid inventory (HTTP 422)');
    expect(refused.stderr).toMatch(/line \d+: macs\.0: /);
    const names = (JSON.parse((await runCli(['machines', 'list', '-o', 'json', ...common])).stdout) as MachineJson[]).map((m) => m.name);
    expect(names).toEqual(['cp-1', 'cp-2', 'w-1']); // w-2 was valid but nothing was imported

    const unknown = await runCli(['machines', 'import', join(rb.workDir, 'rack.txt'), ...common]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--format csv|yaml');
  }, 60_000);

  it('lists as a table by default, as JSON or YAML on request, and filters', async () => {
    const t = await runCli(['machines', 'list', ...common]);
    expect(t.code).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+AGE\s+RACK\s+ROLE\s+MACS\s+BMC$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ['cp-1', 'ready'],
      ['cp-2', 'ready'],
      ['w-1', 'ready'],
    ]);
    const yaml = parseYaml((await runCli(['machines', 'list', '-o', 'yaml', '--rack', 'r2', ...common])).stdout) as MachineJson[];
    expect(yaml.map((m) => [m.name, m.rack])).toEqual([['w-1', 'r2']]);
    const none = await runCli(['machines', 'list', '--state', 'installed', ...common]);
    expect(none.stdout).toBe('no machines\n');
    const badState = await runCli(['machines', 'list', '--state', 'halfway', ...common]);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toContain("argument 'halfway' is invalid");
  }, 60_000);

  it('adds, shows and deletes one machine; refusals exit 1, usage errors 2', async () => {
    const add = await runCli(['machines', 'add', 'x-9', '--mac', '02:00:00:00:10:99', '--rack', 'r3', '--tag', 'gpu', '-o', 'json', ...common]);
    expect(add.code).toBe(0);
    const added = JSON.parse(add.stdout) as MachineJson & { tags: string[] };
    expect([added.name, added.rack, added.tags]).toEqual(['x-9', 'r3', ['gpu']]);
    const dup = await runCli(['machines', 'add', 'x-9', '--mac', '02:00:00:00:10:98', ...common]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("Conflict (HTTP 409): a machine named 'x-9' already exists");
    const noMac = await runCli(['machines', 'add', 'x-10', ...common]);
    expect(noMac.code).toBe(2);
    expect(noMac.stderr).toContain("required option '--mac <mac>' not specified");

    const show = await runCli(['machines', 'show', 'x-9', ...common]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^name: +x-9$/m);
    expect(show.stdout).toContain(`id:        ${added.id}`);
    expect(show.stdout).toMatch(/^state: +ready \(for \d+ s, since /m);
    const byId = JSON.parse((await runCli(['machines', 'show', added.id, '-o', 'json', ...common])).stdout) as MachineJson;
    expect(byId.name).toBe('x-9');

    const del = await runCli(['machines', 'delete', 'x-9', ...common]);
    expect([del.code, del.stdout]).toEqual([0, 'deleted x-9\n']);
    const again = await runCli(['machines', 'show', 'x-9', ...common]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("rackboot: no machine named 'x-9'\n");
  }, 60_000);

  it('exits 1 with the reason when the server cannot be reached', async () => {
    const r = await runCli(['machines', 'list', '--server', 'http://127.0.0.1:9', '--config', rb.configFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^rackboot: cannot reach http:\/\/127\.0\.0\.1:9: /);
  }, 30_000);
});

describe('rackboot events and watch', () => {
  it('watch --until installed follows a machine through a real install and exits 0; events prints its timeline', async () => {
    const list = await rb.api<{ items: MachineJson[] }>('GET', '/api/v1/machines?limit=100');
    const cp1 = list.body.items.find((m) => m.name === 'cp-1')!;
    const watch = spawn(TSX, [CLI, 'watch', 'cp-1', '--until', 'installed', ...common], { env: { ...process.env, RACKBOOT_TOKEN: '' } });
    let out = '';
    watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
    watch.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((ok) => watch.on('exit', ok));
    try {
      // The first board line means watch has its machines and is on the stream.
      await until(() => /cp-1\s+ready/.test(out) || watch.exitCode !== null, 30_000, () => out);
      expect(watch.exitCode, out).toBeNull();
      // The installer's own requests: the iPXE script, then the install callbacks.
      expect((await fetch(rb.bootUrl(cp1, '/script.ipxe'))).status).toBe(200);
      expect((await fetch(rb.bootUrl(cp1, '/callback/install-start'), { method: 'POST' })).status).toBe(200);
      expect((await fetch(rb.bootUrl(cp1, '/callback/install-done'), { method: 'POST' })).status).toBe(200);
      expect(await exited).toBe(0);
    } finally {
      if (watch.exitCode === null) watch.kill('SIGTERM');
    }
    // Not a terminal: one line per change, each with its state and lifecycle bar.
    expect(out).toMatch(/cp-1\s+booting-installer\s+.*\[#+\.+\]\s+\d+%/);
    expect(out).toMatch(/cp-1\s+installing\s/);
    expect(out).toMatch(/cp-1\s+installed\s+.*lifecycle\.transition: installing → installed/);

    const ev = await runCli(['events', 'cp-1', ...common]);
    expect(ev.code).toBe(0);
    const steps = ev.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.trim().split(/\s+/)[4]);
    expect(steps).toEqual(['lifecycle.transition', 'script.served', 'lifecycle.transition', 'lifecycle.transition']);
    const json = JSON.parse((await runCli(['events', 'cp-1', '-o', 'json', ...common])).stdout) as Array<{ kind: string; source: string; detail: { to?: string } }>;
    expect(json.filter((e) => e.kind === 'lifecycle.transition').map((e) => e.detail.to)).toEqual(['booting-installer', 'installing', 'installed']);
  }, 90_000);

  it('watch --until exits 1 as soon as a watched machine fails', async () => {
    const w1 = (await rb.api<{ items: MachineJson[] }>('GET', '/api/v1/machines?limit=100')).body.items.find((m) => m.name === 'w-1')!;
    const watch = spawn(TSX, [CLI, 'watch', 'w-1', '--until', 'installed', ...common], { env: { ...process.env, RACKBOOT_TOKEN: '' } });
    let out = '';
    watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
    watch.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((ok) => watch.on('exit', ok));
    try {
      await until(() => /w-1\s+ready/.test(out) || watch.exitCode !== null, 30_000, () => out);
      expect(watch.exitCode, out).toBeNull();
      const r = await rb.api('PATCH', `/api/v1/machines/${w1.id}`, { state: 'failed' });
      expect(r.status).toBe(200);
      expect(await exited).toBe(1);
      expect(out).toMatch(/w-1\s+failed/);
    } finally {
      if (watch.exitCode === null) watch.kill('SIGTERM');
    }
  }, 60_000);
});

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met; output so far:\n${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
