// ECMA-119 9.1 directory records: bounds-checked parsing of one record and iteration over a
// directory extent. Extent ranges are checked by the tree walker, which knows the volume size.
import { corrupt } from './errors.js';
import { recordDate, u32both } from './bytes.js';

export const FLAG_HIDDEN = 0x01;
export const FLAG_DIRECTORY = 0x02;
export const FLAG_ASSOCIATED = 0x04;
export const FLAG_MULTI_EXTENT = 0x80;
export const MIN_RECORD = 33;

export interface DirRecord {
  /** Offset of the record inside the directory data (for messages). */
  at: number;
  length: number;
  /** Blocks of extended attribute record in front of the data. */
  earLength: number;
  extentLba: number;
  dataLength: number;
  recorded: Date | null;
  flags: number;
  fileUnitSize: number;
  interleaveGap: number;
  /** Raw file identifier: 0x00 is '.', 0x01 is '..'. */
  identifier: Buffer;
  /** The System Use area (SUSP / Rock Ridge), possibly empty. */
  systemUse: Buffer;
}

/** Parses the record at `at`; `end` is where the directory data stops. Throws IsoFault on bad lengths. */
export function parseRecord(buf: Buffer, at: number, end: number, where: string): DirRecord {
  const length = buf[at] ?? 0;
  if (length < MIN_RECORD) throw corrupt(`${where}: directory record at offset ${at} is ${length} bytes, shorter than ${MIN_RECORD}`);
  if (at + length > end) throw corrupt(`${where}: directory record at offset ${at} (${length} bytes) runs past the end of the directory (${end})`);
  const idLen = buf[at + 32] ?? 0;
  if (idLen === 0) throw corrupt(`${where}: directory record at offset ${at} has an empty file identifier`);
  if (MIN_RECORD + idLen > length) throw corrupt(`${where}: directory record at offset ${at} has a ${idLen}-byte name that does not fit its ${length} bytes`);
  // A pad byte follows an even-length identifier so the System Use area starts on an even offset.
  const suStart = Math.min(length, MIN_RECORD + idLen + (idLen % 2 === 0 ? 1 : 0));
  return {
    at,
    length,
    earLength: buf[at + 1] ?? 0,
    extentLba: u32both(buf, at + 2),
    dataLength: u32both(buf, at + 10),
    recorded: recordDate(buf, at + 18),
    flags: buf[at + 25] ?? 0,
    fileUnitSize: buf[at + 26] ?? 0,
    interleaveGap: buf[at + 27] ?? 0,
    identifier: buf.subarray(at + MIN_RECORD, at + MIN_RECORD + idLen),
    systemUse: buf.subarray(at + suStart, at + length),
  };
}

/**
 * Records of one directory's data, in order. A zero length byte is padding up to the next block
 * (records never straddle a sector); skipping by the logical block size is the finer, safe step.
 */
export function* recordsIn(buf: Buffer, blockSize: number, where: string): Generator<DirRecord> {
  let at = 0;
  while (at < buf.length) {
    if (buf[at] === 0) {
      at = at - (at % blockSize) + blockSize;
      continue;
    }
    const rec = parseRecord(buf, at, buf.length, where);
    yield rec;
    at += rec.length;
  }
}

export const isSelfOrParent = (rec: DirRecord): boolean =>
  rec.identifier.length === 1 && (rec.identifier[0] === 0 || rec.identifier[0] === 1);
