import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPrerequisiteProblems } from '../lab/netns.js';
import { waitUntil } from '../lab/processes.js';
import { bootVm, vmDiagnostics, type LabVm } from '../lab/qemu.js';
import { buildTestAppliance, defaultCacheDir, type TestAppliance } from '../lab/test-iso.js';
import { startRackbootLab, type RackbootLab } from '../support/rackboot-lab.js';

// The netboot install path on real firmware: iPXE boots the installer with its config_url, the
// installer (the test initramfs standing in for kairos-agent) reports each stage, writes to the disk
// and reboots; the next network boot is answered with "boot from disk".

const problems = labPrerequisiteProblems(['ip', 'qemu-system-x86_64', 'radvd', 'curl', 'xorriso', 'mksquashfs']);
if (problems.length > 0 && process.env.CI) throw new Error(`QEMU lab prerequisites missing in CI: ${problems.join('; ')}`);

interface Case {
  name: string;
  firmware: 'seabios' | 'ovmf';
  mac: string;
}
const CASES: Case[] = [
  { name: 'install-bios', firmware: 'seabios', mac: '52:54:00:e3:00:01' },
  { name: 'install-uefi', firmware: 'ovmf', mac: '52:54:00:e3:00:02' },
];

interface Event {
  kind: string;
  outcome: string;
  detail?: { plan?: string; to?: string };
}

describe.skipIf(problems.length > 0 && !process.env.CI)('netboot install on real firmware (QEMU, TCG)', () => {
  let appliance: TestAppliance;
  let work: string;
  let lab: RackbootLab;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    appliance = await buildTestAppliance(defaultCacheDir());
    work = mkdtempSync(join(tmpdir(), 'rb-e2e-install-'));
    lab = await startRackbootLab({
      mode: 'full',
      taps: CASES.length,
      dir: work,
      appliance,
      profiles: {
        installer: {
          kernel: 'test-appliance/kernel',
          initrds: ['test-appliance/initrd'],
          cmdline: 'console=ttyS0 quiet panic=-1 rd.neednet=1 ip=dhcp netboot install-mode config_url={{configUrl}}',
        },
      },
    });
    const yaml = stringify({
      machines: CASES.map((c, i) => ({
        name: c.name,
        macs: [c.mac],
        firmware: c.firmware === 'seabios' ? 'bios' : 'uefi',
        profile: 'installer',
        disks: [{ path: `/dev/disk/by-id/virtio-rbdisk${i}`, role: 'os', sizeGb: 1 }],
      })),
    });
    const r = await lab.rb.api<{ items: Array<{ id: string; name: string }> }>('POST', '/api/v1/machines/import', { type: 'application/yaml', data: yaml });
    expect(r.status).toBe(201);
    for (const m of r.body.items) ids.set(m.name, m.id);
  });

  afterAll(async () => {
    await lab?.destroy();
    if (work && !process.env.RACKBOOT_KEEP_E2E) rmSync(work, { recursive: true, force: true });
  });

  it('installs each machine, then answers its next boot with boot-from-disk', async () => {
    const disks = CASES.map((_, i) => {
      const p = join(work, `disk${i}.raw`);
      writeFileSync(p, '');
      truncateSync(p, 16 * 1024 * 1024);
      return p;
    });
    const boot = (c: Case, i: number, round: number): Promise<LabVm> =>
      bootVm({
        ns: lab.ns,
        tap: lab.ns.taps[i]!,
        mac: c.mac,
        firmware: c.firmware,
        nic: 'ipxe-rom',
        memoryMb: 512,
        diskPath: disks[i]!,
        serialLog: join(work, `${c.name}-boot${round}.log`),
        timeoutMs: 420_000,
        registry: lab.registry,
      });
    const events = async (c: Case) => (await lab.rb.api<{ items: Event[] }>('GET', `/api/v1/machines/${ids.get(c.name)}/events`)).body.items;
    const state = async (c: Case) => (await lab.rb.api<{ state: string; stateReason: string | null }>('GET', `/api/v1/machines/${ids.get(c.name)}`)).body;

    // First boot: the installer runs, reports both stages and reboots (QEMU exits on reboot).
    const first = await Promise.all(CASES.map((c, i) => boot(c, i, 1)));
    await Promise.all(
      CASES.map(async (c, i) => {
        try {
          await waitUntil(`${c.name} to reach installed`, async () => (await state(c)).state === 'installed', 400_000, 1000);
          await first[i]!.exited;
        } catch (e) {
          throw new Error(`${(e as Error).message}; state ${JSON.stringify(await state(c))}\n${vmDiagnostics(first[i]!)}`);
        }
      }),
    );
    for (const [i, c] of CASES.entries()) {
      const head = Buffer.alloc(128);
      const fd = openSync(disks[i]!, 'r');
      readSync(fd, head, 0, 128, 0);
      closeSync(fd);
      expect(head.toString('latin1')).toContain(`RACKBOOT-INSTALLED mac=${c.mac} device=/dev/disk/by-id/virtio-rbdisk${i}`);
      expect(first[i]!.serialText()).toContain('RACKBOOT-INSTALL-DONE');
    }

    // Second boot: rackboot must send the firmware to the disk, never back into the installer.
    const second = await Promise.all(CASES.map((c, i) => boot(c, i, 2)));
    try {
      await Promise.all(
        CASES.map((c) =>
          waitUntil(`${c.name}: a local-disk script`, async () => (await events(c)).some((e) => e.kind === 'script.served' && e.detail?.plan === 'local-disk'), 400_000, 1000),
        ),
      );
    } finally {
      await Promise.all(second.map((v) => v.kill()));
    }

    for (const c of CASES) {
      const evs = await events(c);
      const steps = evs
        .filter((e) => ['script.served', 'userdata.served', 'lifecycle.transition', 'artifact.fetched'].includes(e.kind))
        .map((e) => (e.kind === 'lifecycle.transition' ? `→${e.detail?.to}` : e.kind === 'script.served' ? `script:${e.detail?.plan}` : e.kind));
      expect(steps.slice(0, 7), c.name).toEqual(['→booting-installer', 'script:netboot', 'artifact.fetched', 'artifact.fetched', 'userdata.served', '→installing', '→installed']);
      expect(steps.slice(7).every((s) => s === 'script:local-disk'), `${c.name}: ${steps.join(' ')}`).toBe(true);
      expect(steps.slice(7).length).toBeGreaterThan(0);
      expect(evs.filter((e) => e.outcome === 'error'), c.name).toEqual([]);
      expect((await state(c)).state).toBe('installed');
    }
    expect(readFileSync(join(work, `${CASES[0]!.name}-boot2.log`), 'utf8')).not.toContain('RACKBOOT-INSTALL-START');
  }, 900_000);
});
