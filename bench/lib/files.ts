// Test payloads: random 1 MiB blocks, each stamped with its index so no two blocks are equal.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/** Writes `bytes` bytes to path and returns their SHA-256 (hex). Memory use stays at one block. */
export function writeTestFile(path: string, bytes: number): string {
  const block = randomBytes(1 << 20);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let off = 0, i = 0; off < bytes; off += block.length, i++) {
      const b = block.subarray(0, Math.min(block.length, bytes - off));
      if (b.length >= 4) b.writeUInt32BE(i, 0);
      hash.update(b);
      writeSync(fd, b);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
