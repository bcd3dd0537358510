// A Readable over a file's extents: one positional read per chunk, pulled by the consumer, so a
// multi-GB extract never sits in memory. Short reads (the file shrank after open) become errors.
import { Readable } from 'node:stream';
import { IsoStreamError, isSystemError } from './errors.js';
import type { ByteSource } from './source.js';
import type { IsoExtent } from './types.js';

export interface ExtentStreamOptions {
  src: ByteSource;
  extents: IsoExtent[];
  /** Logical byte range [start, endExclusive) of the file. */
  start: number;
  endExclusive: number;
  chunkSize: number;
  isClosed: () => boolean;
}

export function extentStream(o: ExtentStreamOptions): Readable {
  let pos = o.start;
  let idx = 0;
  let base = 0; // logical offset at which extents[idx] begins
  return new Readable({
    highWaterMark: o.chunkSize,
    read(): void {
      if (pos >= o.endExclusive) {
        this.push(null);
        return;
      }
      if (o.isClosed()) {
        this.destroy(new IsoStreamError('RB_ISO_CLOSED', 'the image was closed during the read'));
        return;
      }
      let ext = o.extents[idx];
      while (ext && pos >= base + ext.length) {
        base += ext.length;
        ext = o.extents[++idx];
      }
      if (!ext) {
        this.destroy(new IsoStreamError('RB_ISO_CORRUPT', `byte ${pos} lies beyond the file's extents`));
        return;
      }
      const n = Math.min(o.chunkSize, o.endExclusive - pos, base + ext.length - pos);
      const at = ext.offset + (pos - base);
      o.src.read(at, n).then(
        (buf) => {
          if (buf.length < n) {
            this.destroy(new IsoStreamError('RB_ISO_TRUNCATED', `image ends at byte ${at + buf.length}, inside the file's data (needs ${at + n})`));
            return;
          }
          pos += n;
          this.push(buf);
        },
        (e: unknown) => {
          this.destroy(new IsoStreamError('RB_ISO_IO', isSystemError(e) ? e.message : String(e)));
        },
      );
    },
  });
}
