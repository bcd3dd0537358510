// The writer's volume descriptors: primary, Joliet supplementary (UCS-2 text fields, escape
// sequence %/E) and the set terminator.
import { bothU16, bothU32, spaced, ucs2Spaced, volumeTime } from './writer-fields.js';
import { SECTOR } from './writer-layout.js';

export interface VolumeFields {
  volumeId: string;
  applicationId: string;
  date: Date;
  volumeSectors: number;
  pathTableSize: number;
  pathL: number;
  pathM: number;
  root: Buffer;
}

export function volumeDescriptor(kind: 'primary' | 'joliet', v: VolumeFields): Buffer {
  const b = Buffer.alloc(SECTOR);
  const text = kind === 'joliet' ? ucs2Spaced : spaced;
  b[0] = kind === 'joliet' ? 2 : 1;
  b.write('CD001', 1, 'latin1');
  b[6] = 1;
  text('', 32).copy(b, 8); // system id
  text(v.volumeId, 32).copy(b, 40);
  bothU32(v.volumeSectors).copy(b, 80);
  if (kind === 'joliet') b.write('%/E', 88, 'latin1'); // UCS-2 level 3
  bothU16(1).copy(b, 120); // volume set size
  bothU16(1).copy(b, 124); // volume sequence number
  bothU16(SECTOR).copy(b, 128);
  bothU32(v.pathTableSize).copy(b, 132);
  b.writeUInt32LE(v.pathL, 140);
  b.writeUInt32BE(v.pathM, 148);
  v.root.copy(b, 156);
  text('', 128).copy(b, 190); // volume set
  text('', 128).copy(b, 318); // publisher
  text('', 128).copy(b, 446); // data preparer
  text(v.applicationId, 128).copy(b, 574);
  text('', 37).copy(b, 702);
  text('', 37).copy(b, 739);
  text('', 37).copy(b, 776);
  volumeTime(v.date).copy(b, 813);
  volumeTime(v.date).copy(b, 830);
  volumeTime(null).copy(b, 847);
  volumeTime(null).copy(b, 864);
  b[881] = 1; // file structure version
  return b;
}

export function terminator(): Buffer {
  const b = Buffer.alloc(SECTOR);
  b[0] = 255;
  b.write('CD001', 1, 'latin1');
  b[6] = 1;
  return b;
}
