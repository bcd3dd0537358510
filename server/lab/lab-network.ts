// The lab's private network: one namespace holding a bridge with a 10.250.x.1/24 address and one tap
// per VM. No veth and no default route, so nothing in it can reach the host's networks.

import { execFileSync } from 'node:child_process';

export const LAB_BRIDGE = 'br0';

export interface LabNetworkSpec {
  namespace: string;
  /** Third octet of 10.250.<subnet>.0/24. */
  subnet: number;
  taps: number;
}

export interface LabNetwork {
  namespace: string;
  bridge: string;
  /** rackboot's address on the bridge, e.g. 10.250.10.1 */
  address: string;
  cidr: string;
  taps: string[];
}

export function ip(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string };
    const stderr = e.stderr === undefined ? '' : String(e.stderr).trim();
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || e.message}`);
  }
}

export function namespaceExists(name: string): boolean {
  return ip(['netns', 'list'])
    .split('\n')
    .some((l) => l.trim().split(/\s+/)[0] === name);
}

/** PIDs of the processes inside the namespace (empty when it does not exist). */
export function namespacePids(name: string): number[] {
  if (!namespaceExists(name)) return [];
  return ip(['netns', 'pids', name])
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => Number.isInteger(p) && p > 1);
}

/** Creates the namespace, bridge and taps; on a failure half way the namespace is deleted again. */
export function createLabNetwork(spec: LabNetworkSpec): LabNetwork {
  if (!Number.isInteger(spec.subnet) || spec.subnet < 0 || spec.subnet > 255) throw new Error(`lab subnet must be 0-255, got ${spec.subnet}`);
  const address = `10.250.${spec.subnet}.1`;
  const taps = Array.from({ length: spec.taps }, (_, i) => `tap${i}`);
  ip(['netns', 'add', spec.namespace]);
  try {
    const n = ['-n', spec.namespace];
    ip([...n, 'link', 'set', 'lo', 'up']);
    ip([...n, 'link', 'add', LAB_BRIDGE, 'type', 'bridge']);
    ip([...n, 'addr', 'add', `${address}/24`, 'dev', LAB_BRIDGE]);
    ip([...n, 'link', 'set', LAB_BRIDGE, 'up']);
    // A DHCP server bound to 0.0.0.0 answers with limited broadcasts; this is not a default route.
    ip([...n, 'route', 'add', '255.255.255.255/32', 'dev', LAB_BRIDGE]);
    for (const tap of taps) {
      ip([...n, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      ip([...n, 'link', 'set', tap, 'master', LAB_BRIDGE, 'up']);
    }
  } catch (err) {
    deleteLabNamespace(spec.namespace);
    throw err;
  }
  return { namespace: spec.namespace, bridge: LAB_BRIDGE, address, cidr: `10.250.${spec.subnet}.0/24`, taps };
}

/** Deletes the namespace; its bridge and taps exist only inside it and go with it. */
export function deleteLabNamespace(name: string): boolean {
  if (!namespaceExists(name)) return false;
  ip(['netns', 'del', name]);
  return true;
}
