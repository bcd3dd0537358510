// A multi-GB content bundle through the Local API client to the appliance stand-in, over real TLS on
// loopback: both ends stream (the process never holds the bundle), the stand-in hashes what it
// receives, a connection dropped mid-upload is retried as a whole upload, and the progress the client
// reports (and the ProgressBoard bar cluster formation draws from it) climbs to the total.

import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { closeSync, createReadStream, ftruncateSync, mkdtempSync, openSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalApiClient } from '../../local-api/index.js';
import { ProgressBoard, type SubjectProgress, type TransferHandle } from '../../server/progress/progress-board.js';
import { startStandinRack, type StandinRack } from '../support/local-api-standin/index.js';

const GiB = 1024 ** 3;
const SIZE = 3 * GiB + 4099;
const DROP_AFTER = GiB;
// Buffering the bundle anywhere in the process would grow it by gigabytes.
const RSS_GROWTH_LIMIT = GiB;

let dir = '';
let bundle = '';
let skip: string | null = null;

/** A sparse file with a few random blocks, so a misplaced byte changes the hash: no disk, no memory. */
function makeBundle(path: string): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, SIZE);
    for (const at of [0, 4096 * 3, GiB - 100, 2 * GiB + 12345, SIZE - 65536]) writeSync(fd, randomBytes(65536), 0, 65536, at);
  } finally {
    closeSync(fd);
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) h.update(chunk);
  return h.digest('hex');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-multigb-'));
  const free = (() => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  })();
  if (free < 64 * 1024 * 1024) {
    skip = `only ${free} bytes free in ${tmpdir()}`;
  } else {
    bundle = join(dir, 'core-content-3g.tar.zst');
    makeBundle(bundle);
    const allocated = statSync(bundle).blocks * 512;
    // A filesystem without sparse files allocates it all: fine only if that fits.
    if (allocated > 256 * 1024 * 1024 && free < SIZE + GiB) skip = `no sparse files in ${tmpdir()} and only ${free} bytes free for ${SIZE}`;
  }
  if (skip !== null && process.env.CI) throw new Error(`multi-GB upload test cannot run: ${skip}`);
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('multi-GB content bundle upload', () => {
  let rack: StandinRack | undefined;
  let client: LocalApiClient | undefined;
  afterAll(async () => {
    client?.close();
    await rack?.stop();
  });

  it('streams 3 GiB over TLS with progress to the total, retries a dropped connection from byte 0, and the stand-in receives every byte', async (ctx) => {
    if (skip !== null) return ctx.skip();
    const expectedSha = await sha256File(bundle);
    rack = await startStandinRack(1, { base: 111 });
    const leader = rack.hosts[0]!;
    leader.failNext('V1ContentUpload', { status: 0, dropAfterBytes: DROP_AFTER });
    const created = LocalApiClient.create({
      host: leader.address,
      port: leader.port,
      username: 'kairos',
      password: 'kairos-pw',
      tls: { pinSha256: new X509Certificate(leader.certPem).fingerprint256 },
      sleep: async (ms) => rack!.clock.advance(ms),
      random: () => 0.5,
    });
    if (!created.ok) throw new Error(created.error.message);
    client = created.value;

    // The bar cluster formation draws, fed the same way (one per attempt).
    const board = new ProgressBoard({ stageTimeouts: {}, intervalMs: 0 });
    const bars: SubjectProgress[] = [];
    board.on('progress', (p) => bars.push(p));
    let bar: TransferHandle | null = null;
    let barAttempt = 0;

    const reports: Array<{ attempt: number; sentBytes: number; totalBytes: number }> = [];
    const rssBefore = process.memoryUsage.rss();
    let rssPeak = rssBefore;
    let calls = 0;
    const r = await client.uploadContent(bundle, {
      onProgress: (p) => {
        if (p.attempt !== barAttempt) {
          barAttempt = p.attempt;
          bar = board.upload('c1', 'core-content-3g.tar.zst', p.totalBytes, p.attempt);
        }
        bar!.sent(p.sentBytes);
        // Every report would be millions of entries; keep attempt changes, every 64th, and the last.
        const prev = reports.at(-1);
        if (prev === undefined || prev.attempt !== p.attempt || ++calls % 64 === 0 || p.sentBytes === p.totalBytes) reports.push({ ...p });
        if (calls % 16 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      },
    });
    (bar as TransferHandle | null)?.end(r.ok);
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
    expect(r.ok, r.ok ? '' : JSON.stringify(r.error)).toBe(true);

    // Two attempts: the first dropped after ~1 GiB, the second whole.
    expect(leader.count('V1ContentUpload')).toBe(2);
    expect([...new Set(reports.map((p) => p.attempt))]).toEqual([1, 2]);
    for (const attempt of [1, 2]) {
      const sent = reports.filter((p) => p.attempt === attempt).map((p) => p.sentBytes);
      for (let i = 1; i < sent.length; i++) expect(sent[i]!).toBeGreaterThanOrEqual(sent[i - 1]!);
    }
    const first = reports.filter((p) => p.attempt === 1);
    expect(first.at(-1)!.sentBytes).toBeGreaterThanOrEqual(DROP_AFTER / 2);
    expect(first.at(-1)!.sentBytes).toBeLessThan(SIZE);
    // The retry starts again from the first bytes, not where the drop happened.
    expect(reports.find((p) => p.attempt === 2)!.sentBytes).toBeLessThan(16 * 1024 * 1024);
    expect(reports.at(-1)).toEqual({ attempt: 2, sentBytes: SIZE, totalBytes: SIZE });

    // The board: attempt 1 ends failed part-way, attempt 2 climbs to done at the total.
    const t = bars.map((p) => p.transfers[0]!);
    expect(t.find((x) => x.attempt === 1 && x.status === 'failed')!.done).toBeLessThan(SIZE);
    const second = t.filter((x) => x.attempt === 2).map((x) => x.done);
    expect(second[0]).toBe(0);
    for (let i = 1; i < second.length; i++) expect(second[i]!).toBeGreaterThanOrEqual(second[i - 1]!);
    expect(t.at(-1)).toMatchObject({ attempt: 2, status: 'done', done: SIZE, total: SIZE, direction: 'upload' });

    // What the host received, hashed as it streamed in.
    const details = await client.uploadedContent();
    expect(details.ok && details.value).toMatchObject({ fileName: 'core-content-3g.tar.zst', sha256Hash: expectedSha, sizeInBytes: SIZE });

    // Nothing held the bundle: growth stays a small fraction of its size.
    const growth = rssPeak - rssBefore;
    console.log(`multi-GB upload: rss before ${(rssBefore / 2 ** 20).toFixed(0)} MiB, peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB`);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT);
  }, 1_200_000);
});
