import type { Machine } from '../inventory/machine.js';
import type { MachineTokens } from './machine-tokens.js';

export const APPLIANCE_FILES = ['kernel', 'initrd', 'rootfs.squashfs', 'appliance.iso'] as const;
export type ApplianceFile = (typeof APPLIANCE_FILES)[number];

/** Every URL a machine is handed carries its capability token; a MAC alone opens nothing. */
export class BootUrls {
  constructor(
    private readonly publicUrl: string,
    private readonly tokens: MachineTokens,
  ) {}

  base(m: Pick<Machine, 'id' | 'tokenGeneration'>): string {
    return `${this.publicUrl}/boot/${m.id}/${this.tokens.tokenFor(m)}`;
  }

  script(m: Pick<Machine, 'id' | 'tokenGeneration'>): string {
    return `${this.base(m)}/script.ipxe`;
  }

  phoneHome(m: Pick<Machine, 'id' | 'tokenGeneration'>): string {
    return `${this.base(m)}/phone-home`;
  }

  userData(m: Pick<Machine, 'id' | 'tokenGeneration'>): string {
    return `${this.base(m)}/user-data`;
  }

  /** NoCloud seed ISO (user-data and meta-data) for a BMC's second virtual-media slot. */
  cidata(m: Pick<Machine, 'id' | 'tokenGeneration'>): string {
    return `${this.base(m)}/cidata.iso`;
  }

  callback(m: Pick<Machine, 'id' | 'tokenGeneration'>, stage: string): string {
    return `${this.base(m)}/callback/${stage}`;
  }

  firstStage(m: Pick<Machine, 'id' | 'tokenGeneration'>, binary: string): string {
    return `${this.base(m)}/ipxe/${binary}`;
  }

  /** A file of an ingested appliance ISO: kernel, initrd, rootfs.squashfs or appliance.iso. */
  appliance(m: Pick<Machine, 'id' | 'tokenGeneration'>, name: string, file: ApplianceFile): string {
    return `${this.base(m)}/appliance/${encodeURIComponent(name)}/${file}`;
  }

  /**
   * The appliance ISO as this machine boots it whole (UEFI HTTP Boot, sanboot, BMC virtual media): its
   * /config.yaml is the machine's user-data and its boot entries carry the machine's config_url.
   */
  machineIso(m: Pick<Machine, 'id' | 'tokenGeneration'>, name: string): string {
    return `${this.base(m)}/appliance/${encodeURIComponent(name)}/machine.iso`;
  }

  /** The machine's ISO (see machineIso) and its cidata seed for a BMC's virtual media, under an expiring media token. */
  virtualMedia(m: Pick<Machine, 'id' | 'tokenGeneration'>, appliance: string, ttlSeconds: number): { iso: string; cidata: string } {
    const base = `${this.publicUrl}/boot/${m.id}/${this.tokens.mediaTokenFor(m, ttlSeconds)}`;
    return { iso: `${base}/appliance/${encodeURIComponent(appliance)}/machine.iso`, cidata: `${base}/cidata.iso` };
  }

  /** Profile artifact references are paths under the artifact root, or absolute URLs used as they are. */
  artifact(m: Pick<Machine, 'id' | 'tokenGeneration'>, ref: string): string {
    if (/^https?:\/\//.test(ref)) return ref;
    return `${this.base(m)}/files/${ref.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/')}`;
  }
}

/** TFTP names carry the MAC so a transfer can be tied to a machine (TFTP has no other identity). */
export function tftpBootName(mac: string, binary: string): string {
  return `${mac.replace(/:/g, '-')}/${binary}`;
}
