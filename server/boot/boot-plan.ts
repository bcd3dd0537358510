import type { ResolvedConfig } from '../config/load.js';
import type { ProfileConfig } from '../config/schema.js';
import type { Machine } from '../inventory/machine.js';
import type { MachineState } from '../lifecycle/states.js';
import { maasModeOf } from '../inventory/maas-mode.js';

export type BootPlan =
  | { kind: 'netboot'; profileName: string; profile: ProfileConfig }
  | { kind: 'local-disk'; reason: string }
  | { kind: 'ignore'; reason: string };

// Once the OS is on disk a network boot must hand over to the disk, never loop into the installer.
const ON_DISK: ReadonlySet<MachineState> = new Set(['installed', 'host-ready', 'linked', 'content-synced', 'cluster-member', 'node-ready', 'enrolled']);

/** What a known (or just discovered) machine should boot now. */
export function planBoot(m: Machine, cfg: Pick<ResolvedConfig, 'profiles' | 'boot' | 'dhcp'> & Partial<Pick<ResolvedConfig, 'maas'>>): BootPlan {
  if (m.state === 'discovered' && cfg.dhcp.unknownMachines !== 'boot') {
    return { kind: 'ignore', reason: `discovered machine; unknownMachines is '${cfg.dhcp.unknownMachines}'` };
  }
  // MAAS network-boots its own deployments; answering them too would race MAAS for the PXE client.
  if (maasModeOf(m, cfg.maas) === 'deploy') return { kind: 'ignore', reason: 'installed through MAAS (maas mode deploy); MAAS network-boots it' };
  if (ON_DISK.has(m.state)) return { kind: 'local-disk', reason: `state is ${m.state}` };
  if (m.state === 'failed') return { kind: 'local-disk', reason: 'state is failed; re-provision to boot the installer again' };
  const name = m.profile ?? cfg.boot.defaultProfile;
  if (name === undefined || name === null) return { kind: 'local-disk', reason: 'no boot profile assigned and no boot.defaultProfile' };
  const profile = cfg.profiles[name];
  if (profile === undefined) return { kind: 'local-disk', reason: `profile '${name}' is not configured` };
  return { kind: 'netboot', profileName: name, profile };
}
