import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPrerequisiteProblems } from '../lab/netns.js';
import { waitUntil } from '../lab/processes.js';
import { bootVm, vmDiagnostics, type LabVm, type NicBoot } from '../lab/qemu.js';
import { buildTestAppliance, defaultCacheDir, type TestAppliance } from '../lab/test-iso.js';
import { startRackbootLab, type RackbootLab } from '../support/rackboot-lab.js';

// The whole-ISO install paths on real firmware. http-iso: OVMF's own UEFI HTTP Boot downloads the
// machine's ISO into a RAM disk and boots its GRUB; sanboot: SeaBIOS's iPXE ROM SAN-boots the machine's
// ISO over HTTP Range requests and boots its isolinux. Either way the only per-machine input is what
// rackboot put into that machine.iso (config_url on the kernel line, /config.yaml); the installer (the
// test initramfs standing in for kairos-agent) reports each stage, writes the disk and reboots, and the
// next network boot is answered with "boot from disk".

const problems = labPrerequisiteProblems(['ip', 'qemu-system-x86_64', 'radvd', 'curl', 'xorriso', 'mksquashfs']);
if (problems.length > 0 && process.env.CI) throw new Error(`QEMU lab prerequisites missing in CI: ${problems.join('; ')}`);

const REPO = new URL('../../', import.meta.url).pathname;

interface Case {
  name: string;
  method: 'http-iso' | 'sanboot';
  firmware: 'seabios' | 'ovmf';
  nic: NicBoot;
  mac: string;
  /** The UEFI RAM disk holds the whole ISO. */
  memoryMb: number;
}
const CASES: Case[] = [
  { name: 'install-http-iso', method: 'http-iso', firmware: 'ovmf', nic: 'firmware-http', mac: '52:54:00:e3:01:01', memoryMb: 1024 },
  { name: 'install-sanboot', method: 'sanboot', firmware: 'seabios', nic: 'ipxe-rom', mac: '52:54:00:e3:01:02', memoryMb: 512 },
];

interface Event {
  kind: string;
  outcome: string;
  message: string;
  detail?: { plan?: string; to?: string; file?: string };
}

describe.skipIf(problems.length > 0 && !process.env.CI)('whole-ISO installs (http-iso, sanboot) on real firmware (QEMU, TCG)', () => {
  let appliance: TestAppliance;
  let work: string;
  let lab: RackbootLab;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    appliance = await buildTestAppliance(defaultCacheDir());
    work = mkdtempSync(join(tmpdir(), 'rb-e2e-iso-'));
    lab = await startRackbootLab({
      mode: 'full',
      taps: CASES.length,
      dir: work,
      appliance,
      profiles: Object.fromEntries(CASES.map((c) => [c.method, { appliance: 'test-appliance', method: c.method }])),
    });
    // Ingest the test ISO the way an operator does, beside the running service.
    execFileSync(join(REPO, 'node_modules/.bin/tsx'), [join(REPO, 'server/cli/main.ts'), 'artifacts', 'add', appliance.isoPath, '--name', 'test-appliance', '--config', join(work, 'rackboot.yaml')], {
      stdio: 'pipe',
      timeout: 120_000,
    });
    const yaml = stringify({
      machines: CASES.map((c, i) => ({
        name: c.name,
        macs: [c.mac],
        firmware: c.firmware === 'seabios' ? 'bios' : 'uefi',
        profile: c.method,
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

  it('installs each machine from its own ISO view, then answers its next boot with boot-from-disk', async () => {
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
        nic: c.nic,
        memoryMb: c.memoryMb,
        diskPath: disks[i]!,
        serialLog: join(work, `${c.name}-boot${round}.log`),
        timeoutMs: 480_000,
        registry: lab.registry,
      });
    const events = async (c: Case) => (await lab.rb.api<{ items: Event[] }>('GET', `/api/v1/machines/${ids.get(c.name)}/events`)).body.items;
    const state = async (c: Case) => (await lab.rb.api<{ state: string; stateReason: string | null }>('GET', `/api/v1/machines/${ids.get(c.name)}`)).body;

    // First boot: the ISO's own bootloader starts the installer with the machine's config_url.
    const first = await Promise.all(CASES.map((c, i) => boot(c, i, 1)));
    await Promise.all(
      CASES.map(async (c, i) => {
        try {
          await waitUntil(`${c.name} to reach installed`, async () => (await state(c)).state === 'installed', 460_000, 1000);
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
      const serial = first[i]!.serialText();
      expect(serial).toContain('RACKBOOT-INSTALL-DONE');
      // The config_url came from the machine ISO's boot entry, not from an iPXE kernel line.
      expect(serial).toContain(`/boot/${ids.get(c.name)}/`);
    }

    // Second boot: rackboot must send the firmware to the disk, never back into the installer.
    const second = await Promise.all(CASES.map((c, i) => boot(c, i, 2)));
    try {
      await Promise.all(
        CASES.map((c) =>
          waitUntil(`${c.name}: a local-disk script`, async () => (await events(c)).some((e) => e.kind === 'script.served' && e.detail?.plan === 'local-disk'), 460_000, 1000),
        ),
      );
    } finally {
      await Promise.all(second.map((v) => v.kill()));
    }

    const expected: Record<Case['method'], string[]> = {
      // UEFI HTTP Boot takes the ISO straight from the DHCP answer: no script on the first boot.
      'http-iso': ['→booting-installer', 'machine.iso', 'userdata.served', '→installing', '→installed'],
      'sanboot': ['→booting-installer', 'script:netboot', 'machine.iso', 'userdata.served', '→installing', '→installed'],
    };
    for (const c of CASES) {
      const evs = await events(c);
      const steps = evs
        .filter((e) => ['script.served', 'userdata.served', 'lifecycle.transition', 'appliance.fetched', 'appliance.read'].includes(e.kind))
        .map((e) => (e.kind === 'lifecycle.transition' ? `→${e.detail?.to}` : e.kind === 'script.served' ? `script:${e.detail?.plan}` : e.kind.startsWith('appliance.') ? (e.detail?.file?.split('/').pop() ?? '?') : e.kind))
        // A whole download is one 'fetched' entry; a SAN boot's range reads are one 'read' entry, maybe beside a read from byte 0.
        .filter((s, i, all) => !(s === 'machine.iso' && all[i - 1] === 'machine.iso'));
      const want = expected[c.method];
      expect(steps.slice(0, want.length), `${c.name}: ${steps.join(' ')}`).toEqual(want);
      const rest = steps.slice(want.length);
      expect(rest.length, `${c.name}: ${steps.join(' ')}`).toBeGreaterThan(0);
      expect(rest.every((s) => s === 'script:local-disk'), `${c.name}: ${steps.join(' ')}`).toBe(true);
      expect(evs.filter((e) => e.outcome === 'error'), c.name).toEqual([]);
      expect((await state(c)).state).toBe('installed');
      expect(readFileSync(join(work, `${c.name}-boot2.log`), 'utf8'), c.name).not.toContain('RACKBOOT-INSTALL-START');
    }
  }, 1_200_000);
});
