import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileHandleCache } from '../../server/http/file-handle-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'rb-fhc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileHandleCache', () => {
  it('shares one open handle between concurrent users and closes it only when idle', async () => {
    const path = join(dir, 'blob');
    writeFileSync(path, 'abcdef');
    const cache = new FileHandleCache(8, 1000);
    const [a, b] = await Promise.all([cache.open(path), cache.open(path)]);
    expect(a!.fh).toBe(b!.fh);
    expect(cache.size()).toBe(1);
    a!.release();
    a!.release(); // a second release of the same lease is ignored
    await cache.sweep(Date.now() + 10_000);
    expect(cache.size()).toBe(1); // b still holds it
    const buf = Buffer.alloc(3);
    await b!.fh.read(buf, 0, 3, 2);
    expect(buf.toString()).toBe('cde');
    b!.release();
    await cache.sweep(Date.now() + 10_000);
    expect(cache.size()).toBe(0);
    await cache.close();
  });

  it('answers a missing file with null and caches nothing', async () => {
    const cache = new FileHandleCache();
    expect(await cache.open(join(dir, 'absent'))).toBeNull();
    expect(cache.size()).toBe(0);
    await cache.close();
  });
});
