// El Torito 1.0 boot catalog: validation entry (checksum and key bytes verified), the default
// entry, and section headers with their entries (BIOS, EFI, ...). Reads at most a bounded window.
import { corrupt, truncated } from './errors.js';
import { SECTOR } from './descriptors.js';
import type { ByteSource } from './source.js';
import type { ElToritoCatalog, ElToritoEntry, ElToritoMedia, ElToritoPlatform, ElToritoSection } from './types.js';

const ENTRY = 32;
/** 16 sectors = 1024 catalog entries; real catalogs use one sector. */
const MAX_CATALOG_BYTES = 16 * SECTOR;
const HEADER_MORE = 0x90;
const HEADER_FINAL = 0x91;
const EXTENSION = 0x44;
const MEDIA_HAS_EXTENSION = 0x20;
const EXTENSION_MORE = 0x20;

export function platformName(id: number): ElToritoPlatform {
  switch (id) {
    case 0:
      return 'x86';
    case 1:
      return 'ppc';
    case 2:
      return 'mac';
    case 0xef:
      return 'efi';
    default:
      return 'unknown';
  }
}

const MEDIA: readonly ElToritoMedia[] = ['no-emulation', 'floppy-1.2m', 'floppy-1.44m', 'floppy-2.88m', 'hard-disk'];

const idString = (b: Buffer, from: number, to: number): string => b.toString('latin1', from, to).replace(/[\0 ]+$/, '');

function bootEntry(b: Buffer, at: number, platformId: number, what: string): ElToritoEntry {
  const indicator = b[at] ?? 0;
  if (indicator !== 0x88 && indicator !== 0x00) throw corrupt(`El Torito ${what}: boot indicator 0x${indicator.toString(16)} is neither 0x88 nor 0x00`);
  const mediaType = (b[at + 1] ?? 0) & 0x0f;
  const loadRba = b.readUInt32LE(at + 8);
  return {
    platformId,
    platform: platformName(platformId),
    bootable: indicator === 0x88,
    mediaType,
    media: MEDIA[mediaType] ?? 'unknown',
    loadSegment: b.readUInt16LE(at + 2),
    systemType: b[at + 4] ?? 0,
    sectorCount: b.readUInt16LE(at + 6),
    loadRba,
    imageOffset: loadRba * SECTOR,
  };
}

/** Parses the catalog at `catalogLba`; throws IsoFault when it is malformed. */
export async function readBootCatalog(src: ByteSource, catalogLba: number, volumeBytes: number): Promise<ElToritoCatalog> {
  const offset = catalogLba * SECTOR;
  if (offset + 2 * ENTRY > volumeBytes) throw corrupt(`El Torito boot catalog at sector ${catalogLba} lies outside the volume`);
  const want = Math.min(MAX_CATALOG_BYTES, volumeBytes - offset);
  const b = await src.read(offset, want);
  if (b.length < 2 * ENTRY) throw truncated(`El Torito boot catalog at sector ${catalogLba} is cut off by the end of the file`);

  if (b[0] !== 1) throw corrupt(`El Torito validation entry has header id ${b[0] ?? 0}, not 1`);
  if (b[30] !== 0x55 || b[31] !== 0xaa) throw corrupt('El Torito validation entry lacks the 55 AA key bytes');
  let sum = 0;
  for (let i = 0; i < ENTRY; i += 2) sum = (sum + b.readUInt16LE(i)) & 0xffff;
  if (sum !== 0) throw corrupt(`El Torito validation entry checksum does not sum to zero (0x${sum.toString(16)})`);
  const validationPlatform = b[1] ?? 0;
  const validation = { platformId: validationPlatform, platform: platformName(validationPlatform), idString: idString(b, 4, 28) };
  const defaultEntry = bootEntry(b, ENTRY, validationPlatform, 'default entry');
  const entries: ElToritoEntry[] = [defaultEntry];
  const sections: ElToritoSection[] = [];

  let at = 2 * ENTRY;
  let final = false;
  while (!final && at + ENTRY <= b.length) {
    const header = b[at] ?? 0;
    if (header !== HEADER_MORE && header !== HEADER_FINAL) break; // unused entries end the catalog
    final = header === HEADER_FINAL;
    const platformId = b[at + 1] ?? 0;
    const count = b.readUInt16LE(at + 2);
    const section: ElToritoSection = { platformId, platform: platformName(platformId), idString: idString(b, at + 4, at + 32), entries: [] };
    at += ENTRY;
    for (let i = 0; i < count; i++) {
      if (at + ENTRY > b.length) throw corrupt(`El Torito section ${sections.length + 1} announces ${count} entries but the catalog ends after ${i}`);
      const entry = bootEntry(b, at, platformId, `section ${sections.length + 1} entry ${i + 1}`);
      let more = ((b[at + 1] ?? 0) & MEDIA_HAS_EXTENSION) !== 0;
      at += ENTRY;
      // Selection-criteria extension entries carry vendor data only; skip them.
      while (more) {
        if (at + ENTRY > b.length || b[at] !== EXTENSION) throw corrupt(`El Torito section ${sections.length + 1} entry ${i + 1}: missing extension entry`);
        more = ((b[at + 1] ?? 0) & EXTENSION_MORE) !== 0;
        at += ENTRY;
      }
      section.entries.push(entry);
      entries.push(entry);
    }
    sections.push(section);
  }
  if (!final && sections.length > 0 && at + ENTRY > b.length) throw corrupt('El Torito catalog has no final section header within its bounds');
  return { catalogLba, validation, defaultEntry, sections, entries };
}
