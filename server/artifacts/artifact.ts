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

export interface Artifact {
  id: string;
  name: string;
  kind: 'appliance-iso';
  /** sha256 of the whole ISO; its blob is stored under this digest. */
  sha256: string;
  size: number;
  /** Where it came from: a path or URL. */
  source: string;
  meta: ApplianceIsoMeta;
  createdAt: string;
}

export type NewArtifact = Omit<Artifact, 'id' | 'createdAt'>;
