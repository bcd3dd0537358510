import type { ResolvedConfig } from '../config/load.js';
import type { ProfileConfig } from '../config/schema.js';
import { tftpBootName, type BootUrls } from '../boot/boot-urls.js';
import type { Machine } from '../inventory/machine.js';
import type { DhcpClient } from './classify.js';

/** What the DHCP answer points the client at. */
export type FirstStage =
  | { kind: 'script'; url: string }
  | { kind: 'http'; url: string; binary: string }
  | { kind: 'tftp'; file: string; binary: string }
  | { kind: 'unsupported'; reason: string };

/**
 * iPXE gets its machine's script; firmware gets the iPXE build for its architecture, over HTTP for
 * UEFI HTTP Boot clients and over TFTP for PXE clients.
 */
export function chooseFirstStage(c: DhcpClient, m: Machine, urls: BootUrls, boot: ResolvedConfig['boot'], profile: ProfileConfig | null = null): FirstStage {
  if (c.ipxe) return { kind: 'script', url: urls.script(m) };
  // http-iso: UEFI HTTP Boot loads the machine's view of the appliance ISO into a RAM disk, no iPXE
  // involved. `profile` is only given while the plan is to boot the installer; once installed, the
  // client gets iPXE below, whose script sends it to the disk.
  if (c.httpBoot && profile?.method === 'http-iso' && profile.appliance !== undefined) {
    return { kind: 'http', url: urls.machineIso(m, profile.appliance), binary: 'machine.iso' };
  }
  if (c.arch === null) return { kind: 'unsupported', reason: 'no client architecture in option 93 or option 60' };
  const binary = binaryFor(c.arch, boot);
  if (binary === null) return { kind: 'unsupported', reason: `client architecture ${c.arch} has no iPXE build configured` };
  if (c.httpBoot) return { kind: 'http', url: urls.firstStage(m, binary), binary };
  return { kind: 'tftp', file: tftpBootName(c.mac, binary), binary };
}

function binaryFor(arch: number, boot: ResolvedConfig['boot']): string | null {
  switch (arch) {
    case 0:
      return 'undionly.kpxe';
    case 6:
    case 7:
    case 9:
    case 15:
    case 16:
      return boot.uefiBinary;
    case 11:
    case 19:
      return boot.arm64Binary;
    default:
      return null;
  }
}
