import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labPrerequisiteProblems } from '../../server/lab/lab-prerequisites.js';
import { namespaceExists, namespacePids } from '../../server/lab/lab-network.js';
import { readLabState } from '../../server/lab/lab-state.js';
import { defaultCacheDir } from '../lab/test-iso.js';
import { CLI, TSX } from '../support/rackboot-process.js';

// `rackboot lab up --machines 3` as a newcomer runs it (a separate process, as root): it builds the test
// appliance, creates the namespace, starts rackboot, the virtual BMCs and their QEMU VMs, registers the
// machines by their BMCs and provisions them until the API shows them installed. Then `lab down` must
// leave neither the namespace nor any of the lab's processes behind.

const problems = labPrerequisiteProblems();
if (problems.length > 0 && process.env.CI) throw new Error(`lab prerequisites missing in CI: ${problems.join('; ')}`);

const MACHINES = 3;

interface Run {
  code: number | null;
  out: string;
}

function runCli(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(TSX, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}

describe.skipIf(problems.length > 0 && !process.env.CI)('rackboot lab up --machines 3 (QEMU, TCG)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-e2e-lab-'));
  const namespace = `rblab-${process.pid.toString(16).slice(-6)}`;

  afterAll(async () => {
    // A failed run must not leave the lab behind.
    if (readLabState(dir).ok) await runCli(['lab', 'down', '--dir', dir], 120_000);
    if (!process.env.RACKBOOT_KEEP_E2E) rmSync(dir, { recursive: true, force: true });
  });

  it('provisions every machine through its BMC to installed, then lab down removes it all', async () => {
    const apiPort = await freePort();
    const up = await runCli(
      ['lab', 'up', '--machines', String(MACHINES), '--dir', dir, '--namespace', namespace, '--subnet', '31', '--api-port', String(apiPort), '--cache-dir', defaultCacheDir(), '--memory', '384', '--timeout', '420'],
      540_000,
    );
    const diagnostics = () =>
      [`--- lab up (exit ${up.code}) ---`, up.out, '--- rackboot.log ---', tail(join(dir, 'logs/rackboot.log')), '--- vbmc.log ---', tail(join(dir, 'logs/vbmc.log'))]
        .concat(Array.from({ length: MACHINES }, (_, i) => [`--- bmc${i + 1} serial ---`, tail(join(dir, `vbmc/bmc${i + 1}/serial.log`), 15)]).flat())
        .join('\n');
    expect(up.code, diagnostics()).toBe(0);
    expect(up.out).toContain(`rackboot lab is up: ${MACHINES} machines installed`);
    expect(up.out).toContain(`http://127.0.0.1:${apiPort}`);

    // The lab is recorded, and the API it printed answers from the host's loopback.
    const state = readLabState(dir);
    if (!state.ok) throw new Error(state.message);
    expect(state.state.namespace).toBe(namespace);
    expect(state.state.processes.map((p) => p.name).sort()).toEqual(['api-forwarder', 'rackboot', 'vbmc']);
    expect(namespaceExists(namespace)).toBe(true);
    const token = readFileSync(join(dir, 'data/admin.token'), 'utf8').trim();
    const api = async <T>(path: string): Promise<T> => {
      const r = await fetch(`http://127.0.0.1:${apiPort}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status, path).toBe(200);
      return (await r.json()) as T;
    };
    const list = await api<{ items: { id: string; name: string; state: string; macs: string[]; bmc: { address: string } | null }[] }>('/api/v1/machines?rack=lab');
    expect(list.items.map((m) => m.name).sort()).toEqual(['lab-node1', 'lab-node2', 'lab-node3']);
    for (const [i, m] of list.items.entries()) {
      expect(m.state, m.name).toBe('installed');
      expect(m.bmc?.address, m.name).toMatch(/^https:\/\/10\.250\.31\.1[1-3]$/);
      const events = (await api<{ items: { kind: string; outcome: string }[] }>(`/api/v1/machines/${m.id}/events?limit=5000`)).items;
      const kinds = events.map((e) => e.kind);
      for (const k of ['bmc.boot-override', 'bmc.powered-on', 'appliance.fetched', 'userdata.served', 'bmc.cleanup']) expect(kinds, `${m.name}: ${k}`).toContain(k);
      // A single Redfish call may fail and be retried (a 412 when the VM's reboot changed the ETag between
      // the client's GET and PATCH); every step above it must have succeeded.
      expect(events.filter((e) => e.outcome === 'error' && e.kind !== 'bmc.call'), m.name).toEqual([]);
      expect(events.find((e) => e.kind === 'bmc.cleanup')?.outcome, m.name).toBe('ok');
      // The fake installer wrote its marker to the VM's own disk.
      const n = m.name.replace('lab-node', 'bmc');
      const head = readFileSync(join(dir, `vbmc/${n}/disk0.raw`)).subarray(0, 128).toString('latin1');
      expect(head, `${m.name} (#${i})`).toContain(`RACKBOOT-INSTALLED mac=${m.macs[0]}`);
    }

    const pids = [...new Set([...state.state.processes.map((p) => p.pid), ...namespacePids(namespace)])];
    expect(pids.length).toBeGreaterThanOrEqual(3 + MACHINES); // rackboot, forwarder, vbmc and a QEMU per VM
    const down = await runCli(['lab', 'down', '--dir', dir], 120_000);
    expect(down.code, down.out).toBe(0);
    expect(namespaceExists(namespace)).toBe(false);
    expect(pids.filter(alive), down.out).toEqual([]);
    expect(existsSync(join(dir, 'lab.json'))).toBe(false);
    const again = await runCli(['lab', 'down', '--dir', dir], 60_000);
    expect(again.code).toBe(1);
    expect(again.out).toContain('no lab in');
  }, 600_000);
});
