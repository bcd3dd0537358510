// Downloads a virtual media image to a local file, as sushy-tools does before it attaches an ISO to
// a VM. Interrupted transfers are resumed with `Range: bytes=<have>-` (up to `attempts` times); a
// server that ignores Range (200 instead of 206) restarts the file. HTTPS images are fetched without
// certificate verification, like a BMC with VerifyCertificate=false (the default on real BMCs).

import { createWriteStream, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

export type FetchErrorCode = 'VBMC_MEDIA_URL' | 'VBMC_MEDIA_HTTP' | 'VBMC_MEDIA_NETWORK';

export class MediaFetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'MediaFetchError';
  }
}

export interface FetchOptions {
  attempts?: number;
  timeoutMs?: number;
  /** Between attempts. */
  retryDelayMs?: number;
}

export interface FetchResult {
  bytes: number;
  /** Number of resumed requests (Range) that were needed. */
  resumes: number;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function requestOnce(url: URL, dest: string, offset: number, timeoutMs: number): Promise<{ done: boolean; total?: number }> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'User-Agent': 'rackboot-vbmc' };
    if (offset > 0) headers['Range'] = `bytes=${offset}-`;
    const req = mod.get(url, { headers, timeout: timeoutMs, ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 416 && offset > 0) {
        // Already complete: the server says there is nothing after `offset`.
        res.resume();
        resolve({ done: true });
        return;
      }
      if (status !== 200 && status !== 206) {
        res.resume();
        reject(new MediaFetchError('VBMC_MEDIA_HTTP', `GET ${url.href} answered HTTP ${status}`, status));
        return;
      }
      const append = status === 206 && offset > 0;
      let total: number | undefined;
      const range = /\/(\d+)$/.exec(res.headers['content-range'] ?? '');
      if (range !== null) total = Number(range[1]);
      else if (res.headers['content-length'] !== undefined) total = Number(res.headers['content-length']) + (append ? offset : 0);
      const out = createWriteStream(dest, { flags: append ? 'a' : 'w' });
      res.pipe(out);
      let failed = false;
      res.on('aborted', () => {
        failed = true;
        out.end();
      });
      res.on('error', () => {
        failed = true;
        out.end();
      });
      out.on('error', (e) => reject(new MediaFetchError('VBMC_MEDIA_NETWORK', `writing ${dest}: ${e.message}`)));
      out.on('finish', () => {
        const have = fileSize(dest);
        if (failed || (total !== undefined && have < total)) resolve({ done: false, ...(total === undefined ? {} : { total }) });
        else resolve({ done: true, ...(total === undefined ? {} : { total }) });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new MediaFetchError('VBMC_MEDIA_NETWORK', `GET ${url.href}: ${e.message}`)));
  });
}

/** Fetches `image` (http or https) into `dest`, resuming with Range after interruptions. */
export async function fetchImage(image: string, dest: string, opts: FetchOptions = {}): Promise<FetchResult> {
  let url: URL;
  try {
    url = new URL(image);
  } catch {
    throw new MediaFetchError('VBMC_MEDIA_URL', `not a URL: ${image}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MediaFetchError('VBMC_MEDIA_URL', `unsupported image URL scheme ${url.protocol}`);
  const attempts = opts.attempts ?? 5;
  await rm(dest, { force: true });
  let resumes = 0;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const have = fileSize(dest);
    if (have > 0) resumes++;
    try {
      const r = await requestOnce(url, dest, have, opts.timeoutMs ?? 30_000);
      if (r.done) return { bytes: fileSize(dest), resumes };
    } catch (err) {
      lastError = err;
      // A definite HTTP refusal (404, 403...) will not change on retry.
      if (err instanceof MediaFetchError && err.code === 'VBMC_MEDIA_HTTP' && err.status !== undefined && err.status < 500) break;
    }
    await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 500));
  }
  await rm(dest, { force: true });
  if (lastError instanceof MediaFetchError) throw lastError;
  throw new MediaFetchError('VBMC_MEDIA_NETWORK', `GET ${url.href}: transfer kept breaking off after ${attempts} attempts`);
}
