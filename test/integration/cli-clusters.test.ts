import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterEvents, closedLoopbackPort, defineFormingCluster, type FormingCluster } from '../support/forming-cluster.js';
import { NETBOOT_PROFILE, runCli, startRackbootProcess, type RackbootProcess } from '../support/rackboot-process.js';

// `rackboot clusters` as a real process against a real `rackboot serve` on loopback, with a cluster
// defined through the API: the list (table and JSON), one cluster with members and timeline, exit codes.

let rb: RackbootProcess;
let common: string[];
let cluster: FormingCluster;

beforeAll(async () => {
  rb = await startRackbootProcess({ boot: { defaultProfile: 'appliance' }, profiles: { appliance: NETBOOT_PROFILE }, enrollment: { localApiPort: await closedLoopbackPort(), pollMs: 200 } });
  common = ['--server', rb.baseUrl, '--config', rb.configFile];
  cluster = await defineFormingCluster(rb, 'edge-a', [
    { name: 'edge-a-1', mac: '02:00:00:00:30:01', ip: '127.0.0.71' },
    { name: 'edge-a-2', mac: '02:00:00:00:30:02', ip: '127.0.0.72' },
  ]);
  await clusterEvents(rb, cluster.id);
}, 120_000);
afterAll(async () => rb?.stop());

describe('rackboot clusters', () => {
  it('lists clusters as JSON in the API shape and as a table with state, step and member states', async () => {
    const j = await runCli(['clusters', '-o', 'json', ...common]);
    expect(j.stderr).toBe('');
    expect(j.code).toBe(0);
    const listed = JSON.parse(j.stdout) as Array<{ id: string; name: string; state: string; members: Array<{ name: string; role: string; state: string }>; steps: unknown[] }>;
    expect(listed.map((c) => [c.id, c.name])).toEqual([[cluster.id, 'edge-a']]);
    expect(listed[0]!.members.map((m) => [m.name, m.role])).toEqual([
      ['edge-a-1', 'control-plane'],
      ['edge-a-2', 'worker'],
    ]);
    expect(['forming', 'failed']).toContain(listed[0]!.state);

    const t = await runCli(['clusters', 'list', ...common]);
    expect(t.code).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+STEP\s+MEMBERS\s+AGE$/);
    expect(lines).toHaveLength(2);
    const api = (await rb.api<{ state: string; members: Array<{ name: string; state: string }> }>('GET', `/api/v1/clusters/${cluster.id}`)).body;
    expect(lines[1]).toMatch(new RegExp(`^edge-a\\s+${api.state}\\s+\\S`));
    for (const m of api.members) expect(lines[1]).toContain(`${m.name}=${m.state}`);
  }, 60_000);

  it('shows one cluster by name or id with its members and its timeline', async () => {
    const events = await clusterEvents(rb, cluster.id);
    const byName = await runCli(['clusters', 'show', 'edge-a', ...common]);
    expect(byName.stderr).toBe('');
    expect(byName.code).toBe(0);
    expect(byName.stdout).toContain(`id:       ${cluster.id}\n`);
    expect(byName.stdout).toMatch(/\nmembers:\nMACHINE\s+ROLE\s+STATE\nedge-a-1\s+control-plane\s+\S+\nedge-a-2\s+worker\s+\S+\n/);
    expect(byName.stdout).toMatch(/\ntimeline \(\d+ events\):\nTIME\s+OUTCOME\s+KIND\s+MESSAGE\n/);
    expect(byName.stdout).toContain(events[0]!.message);

    const byId = await runCli(['clusters', 'show', cluster.id, '-o', 'json', ...common]);
    expect(byId.code).toBe(0);
    const shown = JSON.parse(byId.stdout) as { name: string; members: Array<{ name: string }>; events: Array<{ kind: string; message: string }> };
    expect(shown.name).toBe('edge-a');
    expect(shown.members.map((m) => m.name)).toEqual(['edge-a-1', 'edge-a-2']);
    expect(shown.events[0]).toMatchObject({ kind: events[0]!.kind, message: events[0]!.message });
  }, 60_000);

  it('exits 1 for an unknown cluster, by name or by id', async () => {
    const byName = await runCli(['clusters', 'show', 'nope', ...common]);
    expect(byName.code).toBe(1);
    expect(byName.stderr).toContain("no cluster named 'nope'");
    expect(byName.stdout).toBe('');
    const byId = await runCli(['clusters', 'show', '00000000-0000-4000-8000-000000000000', ...common]);
    expect(byId.code).toBe(1);
    expect(byId.stderr).toContain('HTTP 404');
    // A cluster still forming has no kubeconfig yet: refused in its state.
    const kube = await runCli(['clusters', 'kubeconfig', 'edge-a', ...common]);
    expect(kube.code).toBe(3);
    expect(kube.stderr).toContain('has no kubeconfig yet');
    expect(kube.stdout).toBe('');
  }, 60_000);

  // Last: it changes the cluster the tests above read.
  it('retries a failed cluster, filters by state, deletes it, with exit codes', async () => {
    const forming = await runCli(['clusters', 'retry', 'edge-a', ...common]);
    expect(forming.code).toBe(3);
    expect(forming.stderr).toContain('only a failed cluster can be retried');
    const member = cluster.members[1]!;
    expect((await rb.api('PATCH', `/api/v1/machines/${member.machineId}`, { state: 'failed' })).status).toBe(200);
    for (let i = 0; i < 200 && (await rb.api<{ state: string }>('GET', `/api/v1/clusters/${cluster.id}`)).body.state !== 'failed'; i++) await new Promise((r) => setTimeout(r, 50));

    const failed = await runCli(['clusters', 'list', '--state', 'failed', '-o', 'json', ...common]);
    expect(failed.code).toBe(0);
    expect((JSON.parse(failed.stdout) as Array<{ id: string }>).map((c) => c.id)).toEqual([cluster.id]);
    const none = await runCli(['clusters', 'list', '--state', 'enrolled', ...common]);
    expect(none.stdout).toBe('no clusters\n');

    const retried = await runCli(['clusters', 'retry', 'edge-a', ...common]);
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/^cluster edge-a is forming again \(/);
    const api = (await rb.api<{ state: string; members: Array<{ state: string }> }>('GET', `/api/v1/clusters/${cluster.id}`)).body;
    expect(api.state).toBe('forming');
    expect(api.members.map((m) => m.state)).not.toContain('failed');

    expect((await rb.api('PATCH', `/api/v1/machines/${member.machineId}`, { state: 'failed' })).status).toBe(200);
    for (let i = 0; i < 200 && (await rb.api<{ state: string }>('GET', `/api/v1/clusters/${cluster.id}`)).body.state !== 'failed'; i++) await new Promise((r) => setTimeout(r, 50));
    const shown = await runCli(['machines', 'show', member.name, ...common]);
    expect(shown.stdout).toContain('\nstate:     failed');
    expect(shown.stdout).toContain('\nfailed in: installed\n');
    const deleted = await runCli(['clusters', 'delete', cluster.id, '-o', 'json', ...common]);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({ id: cluster.id, deleted: true });
    const gone = await runCli(['clusters', 'delete', 'edge-a', ...common]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("no cluster named 'edge-a'");
  }, 120_000);
});
