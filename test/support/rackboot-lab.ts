import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLabNetns, type LabNetns } from '../lab/netns.js';
import { ProcessRegistry } from '../lab/processes.js';
import { startRadvd } from '../lab/radvd.js';
import { startSiteDhcp } from '../lab/site-dhcp.js';
import type { TestAppliance } from '../lab/test-iso.js';
import { bridgedHost } from './bridged-host.js';
import { startRackbootInNetns, type RackbootInNetns } from './rackboot-in-netns.js';

export interface RackbootLab {
  ns: LabNetns;
  registry: ProcessRegistry;
  rb: RackbootInNetns;
  dir: string;
  destroy(): Promise<void>;
}

export interface RackbootLabOptions {
  mode: 'full' | 'proxy';
  taps: number;
  dir: string;
  appliance: TestAppliance;
  /** Boot profiles; `test-appliance/kernel` and `test-appliance/initrd` exist in the artifact root. */
  profiles: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/**
 * A lab segment with rackboot serving it: radvd (ends iPXE's IPv6 wait), the test appliance's kernel
 * and initrd in the artifact root, and in proxy mode the site's own DHCP server on a second host.
 */
export async function startRackbootLab(o: RackbootLabOptions): Promise<RackbootLab> {
  const registry = new ProcessRegistry();
  const ns = await createLabNetns({ taps: o.taps });
  let site: LabNetns | null = null;
  try {
    await startRadvd({ ns, registry, workDir: join(o.dir, 'radvd') });
    if (o.mode === 'proxy') {
      // Its own host: the site server's identifier must differ from rackboot's for ProxyDHCP to mean anything.
      site = await bridgedHost(ns, '10.250.0.2/24');
      await startSiteDhcp({ ns: site, registry, workDir: join(o.dir, 'site-dhcp') });
    }
    const artifacts = join(o.dir, 'data', 'artifacts', 'test-appliance');
    mkdirSync(artifacts, { recursive: true });
    copyFileSync(o.appliance.kernelPath, join(artifacts, 'kernel'));
    copyFileSync(o.appliance.initrdPath, join(artifacts, 'initrd'));
    const rb = await startRackbootInNetns({
      ns,
      registry,
      workDir: o.dir,
      config: {
        advertiseAddress: ns.address,
        dataDir: join(o.dir, 'data'),
        log: { level: 'debug' },
        dhcp: {
          mode: o.mode,
          unknownMachines: 'ignore',
          ...(o.mode === 'full' ? { subnets: [{ cidr: '10.250.0.0/24', pool: { start: '10.250.0.100', end: '10.250.0.199' }, leaseSeconds: 600 }] } : {}),
        },
        profiles: o.profiles,
        // Not the default 8443: lab tests run virtual BMCs on 8443/8444 in the same namespace.
        https: { port: 0 },
        ...o.config,
      },
    });
    return {
      ns,
      registry,
      rb,
      dir: o.dir,
      async destroy() {
        await registry.stopAll();
        await site?.destroy();
        await ns.destroy();
      },
    };
  } catch (e) {
    await registry.stopAll();
    await site?.destroy();
    await ns.destroy();
    throw e;
  }
}
