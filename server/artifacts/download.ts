import { createWriteStream } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';

export interface DownloadProgress {
  done: number;
  total: number | null;
  resumedFrom: number;
}

export type DownloadResult = { ok: true; path: string; size: number } | { ok: false; code: 'RB_DOWNLOAD_HTTP' | 'RB_DOWNLOAD_NETWORK'; reason: string };

/**
 * Downloads url to dest, resuming a `<dest>.part` left by an earlier attempt with a Range request.
 * A server that ignores Range (200) restarts the file; attempts are bounded.
 */
export async function downloadResumable(
  url: string,
  dest: string,
  opts: { attempts?: number; onProgress?: (p: DownloadProgress) => void; retryDelayMs?: number } = {},
): Promise<DownloadResult> {
  const part = `${dest}.part`;
  const attempts = opts.attempts ?? 5;
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const have = await stat(part).then((s) => s.size, () => 0);
    let res: Response;
    try {
      res = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow' });
    } catch (e) {
      lastError = `${(e as Error).message}${(e as { cause?: Error }).cause ? `: ${(e as { cause: Error }).cause.message}` : ''}`;
      await pause(opts.retryDelayMs ?? 1000, attempt);
      continue;
    }
    if (res.status === 416 && have > 0) {
      // The part file already holds everything the server has.
      await rename(part, dest);
      return { ok: true, path: dest, size: have };
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      if (res.status >= 500) {
        lastError = `HTTP ${res.status}`;
        await pause(opts.retryDelayMs ?? 1000, attempt);
        continue;
      }
      return { ok: false, code: 'RB_DOWNLOAD_HTTP', reason: `${url}: HTTP ${res.status} ${res.statusText}` };
    }
    const from = res.status === 206 ? have : 0;
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = Number.isFinite(length) ? from + length : null;
    let done = from;
    const meter = new Transform({
      transform(chunk: Buffer, _e, cb) {
        done += chunk.length;
        opts.onProgress?.({ done, total, resumedFrom: from });
        cb(null, chunk);
      },
    });
    try {
      if (res.body === null) throw new Error('empty response body');
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), meter, createWriteStream(part, { flags: from > 0 ? 'a' : 'w' }));
    } catch (e) {
      lastError = (e as Error).message;
      await pause(opts.retryDelayMs ?? 1000, attempt);
      continue;
    }
    if (total !== null && done !== total) {
      lastError = `short body: ${done} of ${total} bytes`;
      continue;
    }
    await rename(part, dest);
    return { ok: true, path: dest, size: done };
  }
  return { ok: false, code: 'RB_DOWNLOAD_NETWORK', reason: `${url}: gave up after ${attempts} attempts: ${lastError}` };
}

function pause(baseMs: number, attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(baseMs * 2 ** (attempt - 1), 30_000)));
}
