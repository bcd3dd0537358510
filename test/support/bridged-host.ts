import type { LabNetns } from '../lab/netns.js';
import { createLabNetns } from '../lab/netns.js';

/**
 * A second host on the lab segment: its own namespace, whose bridge is joined to the lab bridge by a
 * veth pair. Used for the site's DHCP server in proxy tests and for real DHCP clients.
 */
export async function bridgedHost(lab: LabNetns, cidr: string, mac?: string): Promise<LabNetns> {
  const host = await createLabNetns({ bridgeCidr: cidr, taps: 0, reapStale: false });
  const tag = `${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  try {
    await lab.exec('ip', ['link', 'add', `rbh${tag}a`, 'type', 'veth', 'peer', 'name', `rbh${tag}b`, 'netns', host.name]);
    await lab.exec('ip', ['link', 'set', `rbh${tag}a`, 'master', lab.bridge, 'up']);
    await host.exec('ip', ['link', 'set', `rbh${tag}b`, 'master', host.bridge, 'up']);
    if (mac !== undefined) await host.exec('ip', ['link', 'set', host.bridge, 'address', mac]);
  } catch (e) {
    await host.destroy();
    throw e;
  }
  return host;
}
