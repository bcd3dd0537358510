// ECMA-119 8: the volume descriptor set from sector 16 to its terminator. Finds the Primary Volume
// Descriptor, a Joliet Supplementary Volume Descriptor and an El Torito Boot Record, and checks
// that the PVD's sizes are in range and that the file holds the whole volume.
import { corrupt, IsoFault, truncated } from './errors.js';
import { decDate, padded, u16both, u32both } from './bytes.js';
import { parseRecord, FLAG_DIRECTORY, type DirRecord } from './directory-record.js';
import { jolietLevel } from './joliet.js';
import { readExact, type ByteSource } from './source.js';

export const SECTOR = 2048;
export const SYSTEM_AREA = 16 * SECTOR;
const MAGIC = Buffer.from('CD001', 'latin1');
const EL_TORITO_ID = 'EL TORITO SPECIFICATION';

export interface PrimaryVolume {
  systemId: string;
  volumeId: string;
  volumeSpaceSize: number;
  logicalBlockSize: number;
  volumeSetId: string;
  publisherId: string;
  dataPreparerId: string;
  applicationId: string;
  creationDate: Date | null;
  modificationDate: Date | null;
  root: DirRecord;
}

export interface DescriptorSet {
  primary: PrimaryVolume;
  /** Root of the Joliet tree and its level (1-3), when a Joliet SVD is present. */
  joliet: { level: number; root: DirRecord } | null;
  /** Sector of the El Torito boot catalog, when a boot record is present. */
  bootCatalogLba: number | null;
  /** Bytes covered by the volume: volumeSpaceSize * logicalBlockSize. */
  volumeBytes: number;
  /** Byte offsets of the primary and supplementary descriptors: each carries a volume space size at +80. */
  volumeDescriptorOffsets: number[];
}

function rootRecord(d: Buffer, what: string): DirRecord {
  const rec = parseRecord(d, 156, 190, what);
  if (rec.length !== 34) throw corrupt(`${what}: root directory record is ${rec.length} bytes, not 34`);
  if ((rec.flags & FLAG_DIRECTORY) === 0) throw corrupt(`${what}: root directory record is not flagged as a directory`);
  return rec;
}

/** Reads the descriptor set; throws IsoFault for anything that is not a complete, sane volume. */
export async function readDescriptors(src: ByteSource, maxDescriptors: number): Promise<DescriptorSet> {
  if (src.size <= SYSTEM_AREA) {
    throw new IsoFault('RB_ISO_NOT_ISO', `file is ${src.size} bytes; an ISO9660 image has a volume descriptor after its 32768-byte system area`);
  }
  let primary: PrimaryVolume | null = null;
  let joliet: DescriptorSet['joliet'] = null;
  let bootCatalogLba: number | null = null;
  let terminator = -1;
  const volumeDescriptorOffsets: number[] = [];

  for (let i = 0; i < maxDescriptors && terminator < 0; i++) {
    const pos = SYSTEM_AREA + i * SECTOR;
    const sector = await src.read(pos, SECTOR);
    const sigSeen = sector.subarray(1, 6);
    const sigOk = sigSeen.length > 0 && sigSeen.equals(MAGIC.subarray(0, sigSeen.length));
    if (sector.length < SECTOR) {
      if (i === 0 && (sector.length < 2 || !sigOk)) throw new IsoFault('RB_ISO_NOT_ISO', `no CD001 volume descriptor at byte ${SYSTEM_AREA}`);
      throw truncated(`file ends at byte ${src.size}, inside volume descriptor ${i} (sector ${16 + i})`);
    }
    if (!sigOk) {
      if (i === 0) throw new IsoFault('RB_ISO_NOT_ISO', `no CD001 signature at byte ${SYSTEM_AREA + 1}`);
      throw corrupt(`sector ${16 + i} has no CD001 signature, and no set terminator came before it`);
    }
    const type = sector[0] ?? 0;
    const version = sector[6] ?? 0;
    if (version !== 1 && !(type === 2 && version === 2)) throw corrupt(`volume descriptor in sector ${16 + i} (type ${type}) has version ${version}`);
    if (type === 1 || type === 2) volumeDescriptorOffsets.push(pos);
    if (type === 255) terminator = 16 + i;
    else if (type === 1 && primary === null) primary = parsePrimary(sector);
    else if (type === 2 && version === 1 && joliet === null) {
      const level = jolietLevel(sector.subarray(88, 120));
      if (level > 0) {
        const bs = u16both(sector, 128);
        const root = rootRecord(sector, `Joliet volume descriptor (sector ${16 + i})`);
        joliet = { level, root };
        if (primary && bs !== primary.logicalBlockSize) throw corrupt(`Joliet block size ${bs} differs from the primary's ${primary.logicalBlockSize}`);
      }
    } else if (type === 0 && bootCatalogLba === null && sector.toString('latin1', 7, 7 + EL_TORITO_ID.length) === EL_TORITO_ID) {
      bootCatalogLba = sector.readUInt32LE(71);
    }
  }
  if (terminator < 0) throw corrupt(`no volume descriptor set terminator within ${maxDescriptors} sectors`);
  if (!primary) throw corrupt('no primary volume descriptor before the set terminator');

  const volumeBytes = primary.volumeSpaceSize * primary.logicalBlockSize;
  const descriptorsEnd = (terminator + 1) * SECTOR;
  if (volumeBytes < descriptorsEnd) {
    throw corrupt(`volume space size ${primary.volumeSpaceSize} blocks (${volumeBytes} bytes) does not cover its own volume descriptors (${descriptorsEnd} bytes)`);
  }
  if (volumeBytes > src.size) {
    throw truncated(`file is ${src.size} bytes but the volume is ${volumeBytes} bytes (${primary.volumeSpaceSize} blocks of ${primary.logicalBlockSize})`);
  }
  // The descriptor sectors were checked above; make sure nothing reads them short later.
  await readExact(src, SYSTEM_AREA, descriptorsEnd - SYSTEM_AREA, 'volume descriptors');
  return { primary, joliet, bootCatalogLba, volumeBytes, volumeDescriptorOffsets };
}

function parsePrimary(d: Buffer): PrimaryVolume {
  const logicalBlockSize = u16both(d, 128);
  if (logicalBlockSize !== 512 && logicalBlockSize !== 1024 && logicalBlockSize !== 2048) {
    throw corrupt(`logical block size ${logicalBlockSize} is not 512, 1024 or 2048`);
  }
  const volumeSpaceSize = u32both(d, 80);
  return {
    systemId: padded(d, 8, 32),
    volumeId: padded(d, 40, 32),
    volumeSpaceSize,
    logicalBlockSize,
    volumeSetId: padded(d, 190, 128),
    publisherId: padded(d, 318, 128),
    dataPreparerId: padded(d, 446, 128),
    applicationId: padded(d, 574, 128),
    creationDate: decDate(d, 813),
    modificationDate: decDate(d, 830),
    root: rootRecord(d, 'primary volume descriptor'),
  };
}
