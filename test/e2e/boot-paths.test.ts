import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPrerequisiteProblems } from '../lab/netns.js';
import { waitUntil } from '../lab/processes.js';
import { bootVm, vmDiagnostics, type LabVm } from '../lab/qemu.js';
import { buildTestAppliance, defaultCacheDir, type TestAppliance } from '../lab/test-iso.js';
import { startRackbootLab, type RackbootLab } from '../support/rackboot-lab.js';

// Real firmware (SeaBIOS + iPXE ROM, OVMF PXE, OVMF HTTP Boot) booting through rackboot in a private
// network namespace, in full mode and in proxy mode beside dnsmasq as the site's DHCP server.

const problems = labPrerequisiteProblems(['ip', 'qemu-system-x86_64', 'radvd', 'dnsmasq', 'curl', 'xorriso', 'mksquashfs']);
const skip = problems.length > 0 && !process.env.CI;
if (problems.length > 0 && process.env.CI) throw new Error(`QEMU lab prerequisites missing in CI: ${problems.join('; ')}`);

interface BootCase {
  label: string;
  firmware: 'seabios' | 'ovmf';
  nic: 'ipxe-rom' | 'firmware-pxe' | 'firmware-http';
  mac: string;
  /** Timeline kinds that must appear, in this order (others may come between). */
  full: string[];
  proxy: string[];
}

const FETCH_AND_BOOT = ['script.served', 'artifact.fetched', 'artifact.fetched', 'boot.completed'];
const CASES: BootCase[] = [
  {
    label: 'SeaBIOS with the iPXE NIC ROM',
    firmware: 'seabios',
    nic: 'ipxe-rom',
    mac: '52:54:00:e2:e0:01',
    full: ['dhcp.offer', 'dhcp.ack', ...FETCH_AND_BOOT],
    proxy: ['dhcp.proxy-offer', ...FETCH_AND_BOOT],
  },
  {
    label: "OVMF's own PXE, TFTP snponly.efi, then iPXE",
    firmware: 'ovmf',
    nic: 'firmware-pxe',
    mac: '52:54:00:e2:e0:02',
    full: ['dhcp.offer', 'dhcp.ack', 'tftp.started', 'tftp.completed', 'dhcp.offer', 'dhcp.ack', ...FETCH_AND_BOOT],
    proxy: ['dhcp.proxy-offer', 'pxe.ack', 'tftp.started', 'tftp.completed', 'dhcp.proxy-offer', ...FETCH_AND_BOOT],
  },
  {
    label: 'OVMF UEFI HTTP Boot, then iPXE',
    firmware: 'ovmf',
    nic: 'firmware-http',
    mac: '52:54:00:e2:e0:03',
    full: ['dhcp.offer', 'dhcp.ack', 'firststage.fetched', 'dhcp.offer', 'dhcp.ack', ...FETCH_AND_BOOT],
    proxy: ['dhcp.proxy-offer', 'firststage.fetched', 'dhcp.proxy-offer', ...FETCH_AND_BOOT],
  },
];

interface TimelineEvent {
  id: number;
  kind: string;
  outcome: string;
  source: string;
  message: string;
}

function containsInOrder(kinds: string[], wanted: string[]): boolean {
  let i = 0;
  for (const k of kinds) if (k === wanted[i]) i++;
  return i === wanted.length;
}

describe.skipIf(skip)('boot paths through rackboot on real firmware (QEMU, TCG)', () => {
  let appliance: TestAppliance;
  let work: string;

  beforeAll(async () => {
    appliance = await buildTestAppliance(defaultCacheDir());
    work = mkdtempSync(join(tmpdir(), 'rb-e2e-boot-'));
  });
  afterAll(() => {
    if (work && !process.env.RACKBOOT_KEEP_E2E) rmSync(work, { recursive: true, force: true });
  });

  for (const mode of ['full', 'proxy'] as const) {
    describe(`${mode} mode`, () => {
      let lab: RackbootLab;
      const ids = new Map<string, string>();

      beforeAll(async () => {
        lab = await startRackbootLab({
          mode,
          taps: CASES.length,
          dir: join(work, mode),
          appliance,
          profiles: {
            'test-appliance': {
              kernel: 'test-appliance/kernel',
              initrds: ['test-appliance/initrd'],
              cmdline: 'console=ttyS0 quiet panic=-1 rackboot.phonehome={{phoneHomeUrl}}',
            },
          },
        });
        const csv = ['name,mac,firmware,profile', ...CASES.map((c, i) => `${mode}-vm${i},${c.mac},${c.firmware === 'seabios' ? 'bios' : 'uefi'},test-appliance`)].join('\n');
        const imported = await lab.rb.api<{ items: Array<{ id: string; macs: string[] }> }>('POST', '/api/v1/machines/import', { type: 'text/csv', data: csv });
        expect(imported.status).toBe(201);
        for (const m of imported.body.items) ids.set(m.macs[0]!, m.id);
      });

      afterAll(async () => {
        await lab?.destroy();
      });

      it('boots every firmware path to the phone-home, and the timeline shows each step', async () => {
        const { ns, registry, rb } = lab;
        const vms: LabVm[] = [];
        try {
          for (const [i, c] of CASES.entries()) {
            vms.push(
              await bootVm({ ns, tap: ns.taps[i]!, mac: c.mac, firmware: c.firmware, nic: c.nic, memoryMb: 512, serialLog: join(work, mode, `vm${i}.log`), timeoutMs: 420_000, registry }),
            );
          }
          const results = await Promise.all(
            CASES.map(async (c, i) => {
              const id = ids.get(c.mac)!;
              try {
                const events = await waitUntil(
                  `${c.label}: boot.completed in the timeline`,
                  async () => {
                    const r = await rb.api<{ items: TimelineEvent[] }>('GET', `/api/v1/machines/${id}/events`);
                    return r.body.items.some((e) => e.kind === 'boot.completed') ? r.body.items : undefined;
                  },
                  400_000,
                  1000,
                );
                return { c, events, problem: null as string | null };
              } catch (e) {
                return { c, events: [] as TimelineEvent[], problem: `${(e as Error).message}\n${vmDiagnostics(vms[i]!)}\n--- rackboot log tail ---\n${tail(rb.logFile)}` };
              }
            }),
          );
          for (const r of results) {
            expect(r.problem, r.c.label).toBeNull();
            const kinds = r.events.map((e) => e.kind);
            expect(containsInOrder(kinds, mode === 'full' ? r.c.full : r.c.proxy), `${r.c.label}: ${kinds.join(' → ')}`).toBe(true);
            expect(r.events.filter((e) => e.outcome === 'error'), r.c.label).toEqual([]);
          }
        } finally {
          await Promise.all(vms.map((v) => v.kill()));
        }
      }, 480_000);
    });
  }
});

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '(no log)';
  }
}
