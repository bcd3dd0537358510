import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

/**
 * Content-addressed files under <root>/blobs/sha256/<hex>. A blob is written to a temporary name and
 * renamed into place only once its digest is known, so a failed write never leaves a partial blob.
 */
export class BlobStore {
  constructor(private readonly root: string) {}

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return join(this.root, 'blobs', 'sha256', sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  /** Streams into the store; returns the digest, size and whether this call created the blob. */
  async put(source: Readable, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number; created: boolean }> {
    const tmpDir = join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    const tmp = join(tmpDir, `blob-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp, { mode: 0o644 }));
      const sha256 = hash.digest('hex');
      if (await this.has(sha256)) {
        await rm(tmp, { force: true });
        return { sha256, size, created: false };
      }
      await rename(tmp, this.pathOf(sha256));
      return { sha256, size, created: true };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async putFile(path: string, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number; created: boolean }> {
    return this.put(createReadStream(path, { highWaterMark: 1024 * 1024 }), onBytes);
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }
}
