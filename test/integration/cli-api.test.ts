import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETBOOT_PROFILE, runCli, startRackbootProcess, type RackbootProcess } from '../support/rackboot-process.js';

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
