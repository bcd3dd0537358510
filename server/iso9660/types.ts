// Public types of the ISO9660 reader. The reader never throws on bad input: every failure is one of
// these result values with a code and a human-readable reason.
import type { Readable } from 'node:stream';

/** Why an image (or a read from it) was refused. */
export type IsoErrorCode =
  | 'RB_ISO_NOT_ISO' // no ISO9660 volume descriptor where one must be
  | 'RB_ISO_TRUNCATED' // the file is shorter than the volume it describes
  | 'RB_ISO_CORRUPT' // structure out of range, cyclic, or over a safety limit
  | 'RB_ISO_IO'; // the file could not be opened or read (not the image's fault)

/** Why a file could not be read out of an open image. */
export type IsoFileErrorCode =
  | 'RB_ISO_NOT_FOUND'
  | 'RB_ISO_NOT_A_FILE'
  | 'RB_ISO_TOO_LARGE'
  | 'RB_ISO_TRUNCATED'
  | 'RB_ISO_CORRUPT'
  | 'RB_ISO_IO'
  | 'RB_ISO_CLOSED';

export interface IsoExtent {
  /** Byte offset in the image file. */
  offset: number;
  /** Bytes of file data in this extent. */
  length: number;
}

export interface IsoEntry {
  /** Absolute, '/'-separated; '/' for the root. */
  path: string;
  /** Best available name: Rock Ridge NM, else Joliet, else ISO9660 without ';1' and a trailing '.'. */
  name: string;
  isDirectory: boolean;
  /** Bytes: sum of the extents (for a directory, the length of its directory extent). */
  size: number;
  /** In file order. Several for a multi-extent file (> 4 GiB); none for an empty file. */
  extents: IsoExtent[];
  /** Rock Ridge TF modify time, else the directory record's recording time; null when unset. */
  mtime: Date | null;
  /** Rock Ridge PX st_mode (type and permission bits). */
  mode?: number;
  /** Rock Ridge SL target, e.g. '../config.yaml'. */
  symlinkTarget?: string;
}

export type ElToritoPlatform = 'x86' | 'ppc' | 'mac' | 'efi' | 'unknown';
export type ElToritoMedia = 'no-emulation' | 'floppy-1.2m' | 'floppy-1.44m' | 'floppy-2.88m' | 'hard-disk' | 'unknown';

export interface ElToritoEntry {
  /** 0 x86 BIOS, 1 PowerPC, 2 Mac, 0xEF EFI: from the validation entry (default) or the section header. */
  platformId: number;
  platform: ElToritoPlatform;
  /** Boot indicator 0x88. */
  bootable: boolean;
  /** Low nibble of the media byte: 0 no emulation, 1-3 floppies, 4 hard disk. */
  mediaType: number;
  media: ElToritoMedia;
  loadSegment: number;
  systemType: number;
  /** Virtual 512-byte sectors loaded by the BIOS (for no emulation); 0 means "whole image" to some firmware. */
  sectorCount: number;
  /** Start of the boot image in 2048-byte CD sectors. */
  loadRba: number;
  /** `loadRba * 2048`, for convenience. */
  imageOffset: number;
}

export interface ElToritoSection {
  platformId: number;
  platform: ElToritoPlatform;
  idString: string;
  entries: ElToritoEntry[];
}

export interface ElToritoCatalog {
  /** Sector (2048 bytes) of the boot catalog. */
  catalogLba: number;
  /** From the validation entry; its checksum has been verified. */
  validation: { platformId: number; platform: ElToritoPlatform; idString: string };
  defaultEntry: ElToritoEntry;
  sections: ElToritoSection[];
  /** The default entry followed by every section entry, in catalog order. */
  entries: ElToritoEntry[];
}

export type ElToritoResult =
  | { ok: true; catalog: ElToritoCatalog | null }
  | { ok: false; code: 'RB_ISO_CORRUPT' | 'RB_ISO_TRUNCATED' | 'RB_ISO_IO' | 'RB_ISO_CLOSED'; reason: string };

export type IsoFileResult = { ok: true; data: Buffer } | { ok: false; code: IsoFileErrorCode; reason: string };

export interface IsoStreamOptions {
  /** First byte, inclusive (default 0). */
  start?: number;
  /** Last byte, inclusive, like fs.createReadStream (default size - 1). */
  end?: number;
  /** Bytes per read (default 1 MiB). */
  chunkSize?: number;
}

export interface IsoImage {
  volumeId: string;
  systemId: string;
  volumeSetId: string;
  publisherId: string;
  applicationId: string;
  creationDate: Date | null;
  logicalBlockSize: number;
  /** In logical blocks. */
  volumeSpaceSize: number;
  /** Actual size of the file. */
  sizeBytes: number;
  hasJoliet: boolean;
  hasRockRidge: boolean;
  /** Which names the tree shows. */
  nameSource: 'rock-ridge' | 'joliet' | 'iso9660';
  /** Oddities that did not stop the read, e.g. a dropped duplicate name. */
  warnings: string[];
  /** Children of a directory in on-disk order; null when the path is not a directory. */
  list(dirPath: string): Promise<IsoEntry[] | null>;
  stat(path: string): Promise<IsoEntry | null>;
  /** Every entry below the root, depth first, parents before children. */
  walk(): AsyncIterable<IsoEntry>;
  /** A whole small file, refused when larger than maxBytes. */
  readFile(target: string | IsoEntry, opts: { maxBytes: number }): Promise<IsoFileResult>;
  /** Streams a file's bytes across its extents; failures arrive as 'error' events (IsoStreamError). */
  createReadStream(entry: IsoEntry, opts?: IsoStreamOptions): Readable;
  elTorito(): Promise<ElToritoResult>;
  close(): Promise<void>;
}

export type IsoReadResult = { ok: true; iso: IsoImage } | { ok: false; code: IsoErrorCode; reason: string };

export interface IsoOpenOptions {
  /** Deepest directory level accepted (root is 0). Default 64. */
  maxDepth?: number;
  /** Directory records accepted in the whole tree. Default 1,000,000. */
  maxEntries?: number;
  /** Largest single directory extent read into memory. Default 32 MiB. */
  maxDirectoryBytes?: number;
  /** Volume descriptors scanned before the terminator must appear. Default 64. */
  maxDescriptors?: number;
}
