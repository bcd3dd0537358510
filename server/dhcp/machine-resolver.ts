import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import type { Machine } from '../inventory/machine.js';
import type { MachineRepo } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import type { DhcpClient } from './classify.js';

/**
 * Finds the inventory machine behind a DHCP client: by any of its MACs, then by SMBIOS UUID in either
 * byte order. An unknown network-boot client is recorded as discovered unless the policy says ignore.
 */
export class MachineResolver {
  private lastCapWarning = 0;

  constructor(
    private readonly machines: MachineRepo,
    private readonly timeline: Timeline,
    private readonly policy: ResolvedConfig['dhcp']['unknownMachines'],
    private readonly maxDiscovered: number,
    private readonly log: Logger,
  ) {}

  async resolve(c: DhcpClient): Promise<Machine | null> {
    const byMac = await this.machines.findByMac(c.mac);
    if (byMac !== null) return byMac;
    if (c.uuid !== null) {
      const byUuid = await this.machines.findByUuid(c.uuid);
      if (byUuid !== null) {
        await this.timeline.record({
          machineId: byUuid.id,
          mac: c.mac,
          source: 'dhcp',
          kind: 'identity.unregistered-mac',
          outcome: 'info',
          message: `booting from MAC ${c.mac}, not in the inventory; matched by SMBIOS UUID`,
          detail: { uuid: c.uuid },
        });
        return byUuid;
      }
    }
    if (!c.netboot || this.policy === 'ignore') return null;
    return this.recordDiscovered(c);
  }

  private async recordDiscovered(c: DhcpClient): Promise<Machine | null> {
    // Forged DISCOVERs with random MACs must not grow the inventory without bound.
    if ((await this.machines.list({ state: 'discovered', limit: 1 })).total >= this.maxDiscovered) {
      const now = Date.now();
      if (now - this.lastCapWarning > 60_000) {
        this.lastCapWarning = now;
        this.log.warn({ mac: c.mac, maxDiscovered: this.maxDiscovered }, 'unknown network-boot client not recorded: dhcp.maxDiscovered reached; adopt or delete discovered machines');
      }
      return null;
    }
    try {
      const m = await this.machines.create({
        name: `discovered-${c.mac.replace(/:/g, '')}`,
        macs: [c.mac],
        smbiosUuid: null,
        serial: null,
        arch: c.arch === 11 || c.arch === 19 ? 'arm64' : 'x86_64',
        firmware: c.arch === 0 ? 'bios' : 'uefi',
        role: null,
        rack: null,
        tags: [],
        network: null,
        disks: [],
        profile: null,
        bmc: null,
        maas: null,
        state: 'discovered',
        discovery: { firstSeenAt: new Date().toISOString(), vendorClass: c.vendorClass, clientArch: c.arch, relay: c.relay },
      });
      await this.timeline.record({
        machineId: m.id,
        mac: c.mac,
        source: 'dhcp',
        kind: 'machine.discovered',
        outcome: 'info',
        message: `unknown machine ${c.mac} network-booted; recorded as discovered`,
        detail: { vendorClass: c.vendorClass, arch: c.arch, relay: c.relay, uuid: c.uuid },
      });
      return m;
    } catch {
      // Another packet of the same boot recorded it first.
      return this.machines.findByMac(c.mac);
    }
  }
}
