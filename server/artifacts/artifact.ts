/** A file of the appliance ISO, stored content-addressed. */
export interface ArtifactFile {
  /** Path inside the ISO, e.g. /boot/kernel. */
  isoPath: string;
  sha256: string;
  size: number;
}

export type ApplianceFlavor = 'palette' | 'vertex' | 'unknown';

export interface GrubEntry {
  title: string;
  kernel: string;
  args: string[];
  initrds: string[];
}

export interface ApplianceIsoMeta {
  volumeId: string;
  flavor: ApplianceFlavor;
  files: { kernel: ArtifactFile; initrd: ArtifactFile; squashfs: ArtifactFile; config: ArtifactFile | null; grubCfg: ArtifactFile | null };
  grubEntries: GrubEntry[];
  /** The automatic installer entry's arguments, minus what only makes sense when booting from the CD. */
  netbootArgs: string[];
  /** Every file in the image, for the record. */
  listing: Array<{ path: string; size: number }>;
  elTorito: Array<{ platform: string; bootable: boolean }>;
}

interface ArtifactBase {
  id: string;
  name: string;
  /** sha256 of the whole file; an ISO's blob is stored under this digest. */
  sha256: string;
  size: number;
  /** Where it came from: a path or URL. */
  source: string;
  createdAt: string;
}

export interface ApplianceIsoArtifact extends ArtifactBase {
  kind: 'appliance-iso';
  meta: ApplianceIsoMeta;
}

/** A disk image uploaded to MAAS as a custom boot resource; MAAS holds the bytes, rackboot the record. */
export interface MaasImageMeta {
  /** What deploy's distro_series names: `custom/<name>`. */
  maasName: string;
  resourceId: number;
  architecture: string;
  filetype: 'ddgz';
  baseImage: string;
  /** The MAAS it was uploaded to (no credentials). */
  maasUrl: string;
}

export interface MaasImageArtifact extends ArtifactBase {
  kind: 'maas-image';
  meta: MaasImageMeta;
}

export type Artifact = ApplianceIsoArtifact | MaasImageArtifact;

export type NewArtifact = Omit<ApplianceIsoArtifact, 'id' | 'createdAt'> | Omit<MaasImageArtifact, 'id' | 'createdAt'>;
