// Where the image bytes come from: a file read with positional reads (never loaded whole), or a
// Buffer (images built in memory, tests). Everything else in the reader goes through ByteSource.
import { open } from 'node:fs/promises';
import { truncated } from './errors.js';

export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `position`; fewer only where the data ends. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export async function fileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL', syscall: 'open' });
    let closed = false;
    return {
      size: st.size,
      async read(position: number, length: number): Promise<Buffer> {
        const buf = Buffer.allocUnsafe(length); // only the filled part is ever returned
        let got = 0;
        // pread may return short counts (signals, network file systems); loop until EOF.
        while (got < length) {
          const { bytesRead } = await fh.read(buf, got, length - got, position + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === length ? buf : buf.subarray(0, got);
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await fh.close();
      },
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export function bufferSource(data: Buffer): ByteSource {
  return {
    size: data.length,
    async read(position: number, length: number): Promise<Buffer> {
      if (position >= data.length) return Buffer.alloc(0);
      return Buffer.from(data.subarray(position, Math.min(data.length, position + length)));
    },
    async close(): Promise<void> {},
  };
}

/** Exactly `length` bytes or an RB_ISO_TRUNCATED fault naming what was being read. */
export async function readExact(src: ByteSource, position: number, length: number, what: string): Promise<Buffer> {
  const buf = await src.read(position, length);
  if (buf.length < length) {
    throw truncated(`${what}: needs bytes ${position}..${position + length - 1} but the file ends at ${src.size}`);
  }
  return buf;
}
