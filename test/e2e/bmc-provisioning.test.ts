import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRUB_PATHS } from '../../server/artifacts/ingest.js';
import { openIso } from '../../server/iso9660/reader.js';
import { labPrerequisiteProblems } from '../lab/netns.js';
import { waitUntil, type LabProcess } from '../lab/processes.js';
import { buildTestAppliance, defaultCacheDir, type TestAppliance } from '../lab/test-iso.js';
import { startRackbootLab, type RackbootLab } from '../support/rackboot-lab.js';

// BMC-driven provisioning end to end: rackboot drives QEMU VMs only through virtual BMCs (vbmc/,
// Redfish over HTTPS, QMP to QEMU). The VM is registered by its BMC alone, provisioned over the PXE path
// and over virtual media (the vbmc downloads machine.iso and attaches it as the VM's CD), and the test
// ISO's initrd (a fake installer driven by config_url) installs to the VM's disk and reports each stage.
//
// The fault test runs 20 virtual BMCs failing 20% of their Redfish calls (10% 500, 10% 503, seeded so
// the run repeats) and provisions them over virtual media. Those BMCs use the vbmc's simulated machine
// backend (TCG on two cores cannot boot twenty VMs): power, boot override and media are real Redfish
// state, and the vbmc really downloads each machine.iso. The test plays each guest: once the vbmc shows
// the machine powered on from the CD, it reads config_url= from the GRUB config of the ISO the vbmc
// downloaded, fetches that user-data and calls its install-start and install-done callbacks, then
// reboots the guest, as the test ISO's initrd does. It proves that under those faults every machine
// ends `failed` with a reason or `installed`, that machines whose BMC calls get through are installed
// (at least one), and that each installed one booted the CD under a consumed one-time override and was
// cleaned up on the vbmc (media ejected, override cleared, left on). It does not prove that a real
// guest boots that ISO: the two QEMU tests above do, without faults.

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const problems = labPrerequisiteProblems(['ip', 'qemu-system-x86_64', 'radvd', 'curl', 'xorriso', 'mksquashfs']);
if (problems.length > 0 && process.env.CI) throw new Error(`QEMU lab prerequisites missing in CI: ${problems.join('; ')}`);

const PASSWORD = 'vbmc-e2e-Secret';
const FAULTY = 20;

interface ReadyBmc {
  name: string;
  url: string;
  fingerprint256: string;
}
interface VbmcState {
  power: string;
  boot: { enabled: string; target: string; mode: string };
  media: { image: string | null; inserted: boolean }[];
  boots: BootRecord[];
}
interface BootRecord {
  seq: number;
  reason: string;
  device: string;
  override?: string;
}
interface Machine {
  id: string;
  name: string;
  state: string;
  stateReason: string | null;
}
interface Event {
  kind: string;
  source: string;
  outcome: string;
  message: string;
  detail?: Record<string, unknown>;
}

describe.skipIf(problems.length > 0 && !process.env.CI)('BMC-driven provisioning through virtual BMCs (QEMU, TCG)', () => {
  let appliance: TestAppliance;
  let work: string;
  let lab: RackbootLab;
  let vbmc: LabProcess;
  const bmcs = new Map<string, ReadyBmc>();

  const api = <T>(method: string, path: string, json?: unknown) => lab.rb.api<T>(method, path, json === undefined ? undefined : { type: 'application/json', data: JSON.stringify(json) });
  const machine = async (id: string) => (await api<Machine>('GET', `/api/v1/machines/${id}`)).body;
  const events = async (id: string) => (await api<{ items: Event[] }>('GET', `/api/v1/machines/${id}/events?limit=5000`)).body.items;
  const vbmcState = async (name: string): Promise<VbmcState> => {
    const r = await lab.ns.exec('curl', ['-sSk', `${bmcs.get(name)!.url}/vbmc/state`], { timeoutMs: 20_000 });
    return JSON.parse(r.stdout) as VbmcState;
  };

  async function register(name: string, profile: string, extra: Record<string, unknown> = {}): Promise<Machine> {
    const b = bmcs.get(name)!;
    const r = await api<{ machine: Machine; detail?: string }>('POST', '/api/v1/bmcs', { address: b.url, username: 'admin', password: PASSWORD, tls: { fingerprintSha256: b.fingerprint256 }, profile, ...extra });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.machine;
  }

  beforeAll(async () => {
    appliance = await buildTestAppliance(defaultCacheDir());
    work = mkdtempSync(join(tmpdir(), 'rb-e2e-bmc-'));
    lab = await startRackbootLab({
      mode: 'full',
      taps: 2,
      dir: work,
      appliance,
      profiles: {
        installer: {
          kernel: 'test-appliance/kernel',
          initrds: ['test-appliance/initrd'],
          cmdline: 'console=ttyS0 quiet panic=-1 rd.neednet=1 ip=dhcp netboot install-mode config_url={{configUrl}}',
        },
        vmedia: { appliance: 'test-iso', method: 'virtual-media' },
      },
      config: { bmc: { maxConcurrent: 8, maxPerBmc: 1, retries: 3 }, lifecycle: { provisioningSeconds: 150, watchdogSeconds: 2 } },
    });
    // The appliance ISO goes into rackboot's store the way an operator adds it.
    const add = spawnSync(join(REPO, 'node_modules/.bin/tsx'), [join(REPO, 'server/cli/main.ts'), 'artifacts', 'add', appliance.isoPath, '--name', 'test-iso', '--config', join(work, 'rackboot.yaml')], {
      cwd: work,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(add.status, add.stderr).toBe(0);

    const qemuBmc = (name: string, port: number, tap: string, mac: string, serial: string) => ({
      name,
      personality: 'generic',
      listen: { host: lab.ns.address, port },
      username: 'admin',
      password: PASSWORD,
      machine: { backend: 'qemu', serialNumber: serial, memoryMb: 256, firmware: 'seabios', nicBoot: 'ipxe-rom', nics: [{ mac, tap }], disks: [{ sizeMb: 16, serial }] },
    });
    const simulated = Array.from({ length: FAULTY }, (_, i) => ({
      name: `sim${i}`,
      personality: 'generic',
      listen: { host: lab.ns.address, port: 8500 + i },
      username: 'admin',
      password: PASSWORD,
      faults: { seed: 100 + i, errorRate: 0.1, unavailableRate: 0.1, retryAfterSeconds: 1 },
      machine: { backend: 'simulated', serialNumber: `SIM${i}`, nics: [{ mac: `52:54:00:e5:01:${i.toString(16).padStart(2, '0')}` }], disks: [{ sizeMb: 16, serial: `SIM${i}` }] },
    }));
    const cfgFile = join(work, 'vbmc.yaml');
    const readyFile = join(work, 'vbmc.ready');
    writeFileSync(
      cfgFile,
      stringify({
        stateDir: join(work, 'vbmc-state'),
        bmcs: [qemuBmc('pxe', 8443, lab.ns.taps[0]!, '52:54:00:e5:00:01', 'RBDISK0'), qemuBmc('vmedia', 8444, lab.ns.taps[1]!, '52:54:00:e5:00:02', 'RBDISK1'), ...simulated],
      }),
    );
    vbmc = await lab.registry.start({
      name: 'vbmc',
      ns: lab.ns,
      command: join(REPO, 'node_modules/.bin/tsx'),
      args: [join(REPO, 'vbmc/main.ts'), '--config', cfgFile, '--ready-file', readyFile],
      cwd: work,
      logFile: join(work, 'vbmc.log'),
    });
    await waitUntil('the virtual BMCs to listen', async () => {
      if (!vbmc.isRunning()) throw new Error(`vbmc exited early; see ${join(work, 'vbmc.log')}`);
      return existsSync(readyFile) && readFileSync(readyFile, 'utf8').trim() !== '';
    }, 60_000, 250);
    for (const b of (JSON.parse(readFileSync(readyFile, 'utf8')) as { bmcs: ReadyBmc[] }).bmcs) bmcs.set(b.name, b);
  }, 300_000);

  afterAll(async () => {
    await lab?.destroy();
    if (work && !process.env.RACKBOOT_KEEP_E2E) rmSync(work, { recursive: true, force: true });
  });

  async function installThrough(name: string, profile: string, method: 'pxe' | 'virtual-media'): Promise<{ m: Machine; evs: Event[] }> {
    const m = await register(name, profile, { name: `vm-${name}` });
    // The vbmc reports its virtio disk; the operator names it the OS disk.
    const serial = name === 'pxe' ? 'RBDISK0' : 'RBDISK1';
    const patched = await api('PATCH', `/api/v1/machines/${m.id}`, { disks: [{ path: `/dev/disk/by-id/virtio-${serial}`, role: 'os' }] });
    expect(patched.status).toBe(200);
    const queued = await api('POST', `/api/v1/machines/${m.id}/bmc-provision`, { method });
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    try {
      await waitUntil(`${name}: installed`, async () => {
        const now = await machine(m.id);
        if (now.state === 'failed') throw new Error(`failed: ${now.stateReason}`);
        return now.state === 'installed';
      }, 420_000, 2000);
      await waitUntil(`${name}: BMC clean-up after install`, async () => (await events(m.id)).some((e) => e.kind === 'bmc.cleanup'), 120_000, 1000);
    } catch (e) {
      const log = join(work, 'vbmc-state', name, 'serial.log');
      throw new Error(`${(e as Error).message}\n${JSON.stringify(await vbmcState(name))}\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : ''}`);
    }
    return { m, evs: await events(m.id) };
  }

  /**
   * Plays the installer of a simulated machine the way the test ISO's initrd does, once the vbmc shows
   * it powered on from the CD: config_url= from the GRUB config of the ISO the vbmc downloaded (what
   * the kernel command line carries), then the user-data's install-start and install-done callbacks,
   * then the guest's reboot. Returns the boot it played, or null while there is none to play yet.
   */
  async function playInstaller(name: string): Promise<BootRecord | null> {
    const st = await vbmcState(name);
    const boot = st.boots.at(-1);
    if (st.power !== 'On' || boot === undefined || boot.device !== 'cdrom' || !st.media[0]?.inserted) return null;
    const dir = join(work, 'vbmc-state', name, 'media');
    const slot0 = readdirSync(dir)
      .map((f) => /^slot0-(\d+)\.iso$/.exec(f))
      .filter((x) => x !== null)
      .sort((a, b) => Number(b[1]) - Number(a[1]))[0];
    expect(slot0, `${name}: the CD the vbmc downloaded`).toBeDefined();
    const opened = await openIso(join(dir, slot0![0]));
    if (!opened.ok) throw new Error(`${name}: machine.iso does not open: ${opened.reason}`);
    let grub = '';
    try {
      for (const p of GRUB_PATHS) {
        const r = await opened.iso.readFile(p, { maxBytes: 1 << 20 });
        if (r.ok) grub += r.data.toString('utf8');
      }
    } finally {
      await opened.iso.close();
    }
    const configUrl = /config_url=(\S+)/.exec(grub)?.[1];
    expect(configUrl, `${name}: config_url in the GRUB config`).toBeDefined();
    const curl = async (url: string) => {
      const r = await lab.ns.exec('curl', ['-sSf', '--max-time', '20', url], { timeoutMs: 30_000 });
      return r.stdout;
    };
    const userData = await curl(configUrl!);
    const hook = (stage: string) => {
      const url = new RegExp(`http://[^' \\s]*/callback/${stage}`).exec(userData)?.[0];
      expect(url, `${name}: ${stage} callback in the user-data`).toBeDefined();
      return url!;
    };
    await curl(hook('install-start'));
    await curl(hook('install-done'));
    const r = await lab.ns.exec('curl', ['-sSkf', '-X', 'POST', '-H', 'content-type: application/json', '-d', '{"action":"reboot"}', `${bmcs.get(name)!.url}/vbmc/guest`], { timeoutMs: 20_000 });
    expect(r.stdout).toContain('"On"');
    return boot;
  }

  function lifecycle(evs: Event[]): string[] {
    return evs.filter((e) => e.kind === 'lifecycle.transition' || e.kind === 'lifecycle.provision').map((e) => String(e.detail?.['to']));
  }

  it('PXE path: registered by its BMC, powered and one-time booted over Redfish, installed, override cleared and left on', async () => {
    const { m, evs } = await installThrough('pxe', 'installer', 'pxe');
    expect(lifecycle(evs)).toEqual(['provisioning', 'booting-installer', 'installing', 'installed']);
    const calls = evs.filter((e) => e.kind === 'bmc.call');
    expect(calls.some((e) => e.detail?.['method'] === 'PATCH' && String(e.detail?.['resource']).startsWith('/redfish/v1/Systems/'))).toBe(true);
    expect(calls.filter((e) => /ComputerSystem\.Reset$/.test(String(e.detail?.['resource']))).length).toBeGreaterThanOrEqual(1);
    const st = await vbmcState('pxe');
    expect(st.boots[0]).toMatchObject({ device: 'net' });
    expect(st.power).toBe('On');
    expect(st.boot).toMatchObject({ enabled: 'Disabled' });
    // Single calls may be refused and recovered (a 412 when the power change altered the System's
    // ETag is retried with a fresh one); no step may fail.
    expect(evs.filter((e) => e.source === 'bmc' && e.kind !== 'bmc.call' && e.outcome === 'error')).toEqual([]);
    expect(evs.some((e) => e.kind === 'lifecycle.failed')).toBe(false);
    expect(JSON.stringify(evs)).not.toContain(PASSWORD);
    expect((await machine(m.id)).state).toBe('installed');
  }, 600_000);

  it('virtual media: machine.iso attached as the CD under a media token, installed, media ejected', async () => {
    const { evs } = await installThrough('vmedia', 'vmedia', 'virtual-media');
    expect(lifecycle(evs)).toEqual(['provisioning', 'booting-installer', 'installing', 'installed']);
    expect(evs.find((e) => e.kind === 'bmc.media-inserted')?.message).toMatch(/machine ISO of test-iso in slot/);
    const st = await vbmcState('vmedia');
    expect(st.boots[0]).toMatchObject({ device: 'cdrom' });
    expect(st.media.every((x) => !x.inserted)).toBe(true);
    expect(st.power).toBe('On');
  }, 600_000);

  it(`fault test: ${FAULTY} BMCs failing 20% of calls; every machine ends installed (cleaned up) or failed with a reason`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < FAULTY; i++) {
      // Registration itself meets the faults; the client's retries carry it through or it is retried here.
      let r: { status: number; body: { machine?: Machine } } = { status: 0, body: {} };
      for (let attempt = 0; attempt < 5 && r.status !== 201; attempt++) {
        const b = bmcs.get(`sim${i}`)!;
        r = await api('POST', '/api/v1/bmcs', { address: b.url, username: 'admin', password: PASSWORD, tls: { fingerprintSha256: b.fingerprint256 }, profile: 'vmedia', rack: 'faulty' });
      }
      expect(r.status).toBe(201);
      ids.push(r.body.machine!.id);
      // As for the QEMU machines: the operator names the reported disk the OS disk (user-data needs one).
      const patched = await api('PATCH', `/api/v1/machines/${r.body.machine!.id}`, { disks: [{ path: `/dev/disk/by-id/virtio-SIM${i}`, role: 'os' }] });
      expect(patched.status).toBe(200);
    }
    const q = await api<{ accepted: unknown[] }>('POST', '/api/v1/bmcs/provision', { method: 'virtual-media', selector: { rack: 'faulty' } });
    expect(q.status, JSON.stringify(q.body)).toBe(202);
    expect(q.body.accepted).toHaveLength(FAULTY);

    // The test plays each simulated guest: the installer boot it saw, by BMC name.
    const played = new Map<string, BootRecord>();
    const settled = new Set<string>();
    await waitUntil('every faulty machine to settle', async () => {
      for (const [i, id] of ids.entries()) {
        if (settled.has(id)) continue;
        const m = await machine(id);
        if (m.state === 'failed') {
          settled.add(id);
          continue;
        }
        if (m.state === 'installed') {
          // Settled once the clean-up ran (or failed the machine, seen on the next round).
          if ((await events(id)).some((e) => e.kind === 'bmc.cleanup')) settled.add(id);
          continue;
        }
        const name = `sim${i}`;
        if (m.state === 'booting-installer' && !played.has(name)) {
          const boot = await playInstaller(name);
          if (boot !== null) played.set(name, boot);
        }
      }
      return settled.size === ids.length;
    }, 420_000, 2000);

    const final = await Promise.all(ids.map(machine));
    const installed: string[] = [];
    for (const [i, m] of final.entries()) {
      const name = `sim${i}`;
      const evs = await events(m.id);
      expect(['installed', 'failed'], m.name).toContain(m.state);
      // Retries show on the timeline.
      expect(evs.some((e) => e.kind === 'bmc.call'), m.name).toBe(true);
      if (m.state === 'failed') {
        expect(m.stateReason, m.name).toBeTruthy();
        // Only a BMC call that failed after retries fails a machine: none waits out a stage watchdog.
        expect(m.stateReason, m.name).toMatch(/^BMC https:/);
        expect(evs.find((e) => e.kind === 'lifecycle.failed'), m.name).toBeDefined();
        continue;
      }
      installed.push(name);
      expect(lifecycle(evs), m.name).toEqual(['provisioning', 'booting-installer', 'installing', 'installed']);
      const st = await vbmcState(name);
      // The installer booted the CD under the one-time override, which that start consumed; the
      // guest's reboot then booted the disk.
      const boot = played.get(name)!;
      expect(boot, name).toMatchObject({ device: 'cdrom', override: 'Cd' });
      const after = st.boots.filter((b) => b.seq > boot.seq);
      expect(after[0], name).toMatchObject({ reason: 'guest-reboot', device: 'disk' });
      expect(after[0]!.override, name).toBeUndefined();
      // The clean-up after install: media ejected, override cleared, machine on.
      expect(st.media.every((x) => !x.inserted && x.image === null), name).toBe(true);
      expect(st.boot.enabled, name).toBe('Disabled');
      expect(st.power, name).toBe('On');
    }
    const retried = (await Promise.all(ids.map(events))).flat().filter((e) => e.kind === 'bmc.call' && e.detail?.['retry'] === true);
    expect(retried.length).toBeGreaterThan(0);
    expect(installed.length, JSON.stringify(final.map((m) => [m.name, m.state, m.stateReason]))).toBeGreaterThan(0);
    // Each installed machine was played by the test exactly as its guest.
    expect(installed.every((n) => played.has(n))).toBe(true);
  }, 600_000);
});
