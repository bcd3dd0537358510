// Boot resources and custom image upload (canonical/maas src/maasserver/api/boot_resources.py, 3.6).
//
// Chunked upload, as python-libmaas does it: POST /boot-resources/ with name, architecture, title,
// filetype, base_image, sha256 and size (no content) -> 201 with the new set's file carrying an
// `upload_uri` -> PUT raw chunks there in order (each appended; Content-Length must equal the chunk) ->
// MAAS verifies the sha256 when the last byte lands -> the file reads `complete: true`.
//
// Resume: MAAS has no offset parameter, it appends. What it reports is the file's `progress`, a
// percentage = 100 * bytes held / (size * region count) (BootResourceFile.sync_progress), so after an
// interruption the resource is re-read and the offset recovered from progress. A chunk is appended
// only after MAAS has read it whole (request.body), so the recovered offset is either what was
// acknowledged or that plus the interrupted chunk; anything else means the region count is not what
// was assumed, and the other counts are tried before giving up.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { MaasClient } from './client.js';
import { multipartBody, seg } from './encoding.js';
import { fail, ok, type MaasError, type MaasResult } from './errors.js';
import {
  BootResourceListSchema,
  BootResourceSchema,
  type MaasBootResource,
  type MaasBootResourceFile,
} from './schema.js';

export type BootResourceFiletype = 'tgz' | 'tbz' | 'txz' | 'ddraw' | 'ddgz' | 'ddxz' | 'ddbz2' | 'ddtgz' | 'ddtbz' | 'ddtxz' | 'ddtar';

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;

export function listBootResources(client: MaasClient, opts: { type?: 'synced' | 'uploaded' } = {}): Promise<MaasResult<MaasBootResource[]>> {
  return client.json({ method: 'GET', path: 'boot-resources/', query: { type: opts.type } }, BootResourceListSchema, 'boot resource list');
}

export function readBootResource(client: MaasClient, id: number): Promise<MaasResult<MaasBootResource>> {
  return client.json({ method: 'GET', path: `boot-resources/${seg(String(id))}/` }, BootResourceSchema, 'boot resource');
}

export async function deleteBootResource(client: MaasClient, id: number): Promise<MaasResult<void>> {
  const r = await client.request({ method: 'DELETE', path: `boot-resources/${seg(String(id))}/` });
  return r.ok ? ok(undefined) : r;
}

export interface CreateBootResourceOptions {
  /** `custom/<name>` (recommended) or a bare name; MAAS stores it without the `custom/` prefix. */
  name: string;
  architecture: string;
  title?: string;
  filetype?: BootResourceFiletype;
  /** `<os>/<series>` the ephemeral installer needs, e.g. `ubuntu/noble`. */
  base_image?: string;
  sha256: string;
  size: number;
}

/** `POST /boot-resources/` without content: the file is created empty, with an upload_uri. */
export function createBootResource(client: MaasClient, opts: CreateBootResourceOptions): Promise<MaasResult<MaasBootResource>> {
  return client.json(
    {
      method: 'POST',
      path: 'boot-resources/',
      form: {
        name: opts.name,
        architecture: opts.architecture,
        title: opts.title,
        filetype: opts.filetype ?? 'tgz',
        base_image: opts.base_image,
        sha256: opts.sha256,
        size: opts.size,
      },
    },
    BootResourceSchema,
    'created boot resource',
  );
}

/**
 * One-shot multipart upload (`content=@file`), streamed from disk. Works through MAAS 3.7 but was
 * removed on MAAS main; prefer uploadCustomImage.
 */
export async function uploadBootResourceContent(
  client: MaasClient,
  opts: Omit<CreateBootResourceOptions, 'sha256' | 'size'> & { path: string; timeoutMs?: number },
): Promise<MaasResult<MaasBootResource>> {
  let size: number;
  try {
    size = (await stat(opts.path)).size;
  } catch (e) {
    return fail({ code: 'RB_MAAS_LOCAL_IO', message: `cannot read ${opts.path}: ${e instanceof Error ? e.message : String(e)}` });
  }
  const mp = multipartBody(
    { name: opts.name, architecture: opts.architecture, title: opts.title, filetype: opts.filetype ?? 'tgz', base_image: opts.base_image },
    [{ field: 'content', filename: 'content', source: { path: opts.path, size } }],
  );
  return client.json(
    {
      method: 'POST',
      path: 'boot-resources/',
      body: () => ({ data: mp.stream(), contentType: mp.contentType, length: mp.length }),
      timeoutMs: opts.timeoutMs,
    },
    BootResourceSchema,
    'created boot resource',
  );
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<MaasResult<{ sha256: string; size: number }>> {
  try {
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return ok({ sha256: h.digest('hex'), size });
  } catch (e) {
    return fail({ code: 'RB_MAAS_LOCAL_IO', message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/** Bytes MAAS holds for a file, from its `progress` percentage. */
export function bytesFromProgress(progress: number, size: number, regionCount = 1): number {
  if (!Number.isFinite(progress) || progress <= 0) return 0;
  return Math.min(size, Math.max(0, Math.round(((progress * size) / 100) * regionCount)));
}

function compareVersions(a: string, b: string): number {
  // MAAS set versions are YYYYMMDD with an optional .N suffix for the same day.
  const [ad, an] = a.split('.');
  const [bd, bn] = b.split('.');
  if (ad !== bd) return (ad ?? '') < (bd ?? '') ? -1 : 1;
  return Number(an ?? 0) - Number(bn ?? 0);
}

export interface LocatedFile {
  version: string;
  file: MaasBootResourceFile;
}

/** The newest set's file whose sha256 and size are the ones given. */
export function findUploadFile(resource: MaasBootResource, sha256: string, size: number): LocatedFile | undefined {
  const sets = Object.entries(resource.sets ?? {}).sort(([a], [b]) => compareVersions(b, a));
  for (const [version, set] of sets) {
    for (const file of Object.values(set.files)) {
      if (file.sha256.toLowerCase() === sha256.toLowerCase() && file.size === size) return { version, file };
    }
  }
  return undefined;
}

export interface UploadProgress {
  phase: 'hashing' | 'uploading' | 'verifying' | 'complete';
  /** Bytes MAAS has acknowledged. */
  bytesSent: number;
  totalBytes: number;
  /** Offset the upload (re)started from, when it resumed. */
  resumedFrom?: number;
}

export interface UploadCustomImageOptions {
  /** Local image, e.g. `kairos-*.raw.gz` for ddgz. Streamed, never read whole. */
  path: string;
  /** `custom/<name>`. */
  name: string;
  architecture: string;
  title?: string;
  filetype?: BootResourceFiletype;
  base_image?: string;
  /** Precomputed sha256 (hex); computed by streaming the file when absent. */
  sha256?: string;
  /** Default 4 MiB. */
  chunkSize?: number;
  onProgress?: (p: UploadProgress) => void;
  /** Look for an unfinished upload of the same file (same name, architecture, sha256, size) and continue it. Default true. */
  resumeExisting?: boolean;
  /** How many interruptions to recover from in one call. Default 5. */
  maxResumes?: number;
  /** MAAS region controllers sharing the upload (progress is divided among them). Default 1. */
  regionCount?: number;
  /** Re-reads while waiting for `complete: true` after the last chunk. Default 30, every 2 s. */
  completionPolls?: number;
  completionPollMs?: number;
  /** Timeout per chunk request. */
  chunkTimeoutMs?: number;
}

export interface UploadResult {
  resourceId: number;
  sha256: string;
  size: number;
  /** The file was already complete in MAAS; nothing was sent. */
  alreadyComplete: boolean;
  /** Offset the first chunk of this call started from (0 for a fresh upload). */
  startedFrom: number;
  /** Interruptions recovered from. */
  resumes: number;
  chunksSent: number;
  resource: MaasBootResource;
}

function uploadError(message: string, extra: Partial<MaasError> = {}): MaasError {
  return { ...extra, code: 'RB_MAAS_UPLOAD', message };
}

const stripCustom = (n: string): string => (n.startsWith('custom/') ? n.slice('custom/'.length) : n);

async function findExisting(
  client: MaasClient,
  name: string,
  architecture: string,
  sha256: string,
  size: number,
): Promise<MaasResult<{ resource: MaasBootResource; located: LocatedFile } | undefined>> {
  const list = await listBootResources(client, { type: 'uploaded' });
  if (!list.ok) return list;
  const wanted = stripCustom(name);
  const candidates = list.value.filter((r) => stripCustom(r.name) === wanted && r.architecture === architecture).sort((a, b) => b.id - a.id);
  for (const c of candidates) {
    const full = await readBootResource(client, c.id);
    if (!full.ok) return full;
    const located = findUploadFile(full.value, sha256, size);
    if (located !== undefined) return ok({ resource: full.value, located });
  }
  return ok(undefined);
}

/**
 * Uploads a custom image as a `filetype` (default ddgz) boot resource in chunks, resuming after
 * interruptions, and returns once MAAS reports the file complete.
 */
export async function uploadCustomImage(client: MaasClient, opts: UploadCustomImageOptions): Promise<MaasResult<UploadResult>> {
  const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE));
  const maxResumes = Math.max(0, Math.floor(opts.maxResumes ?? 5));
  const regionCount = Math.max(1, Math.floor(opts.regionCount ?? 1));
  const report = opts.onProgress ?? (() => undefined);

  let size: number;
  let sha256: string;
  if (opts.sha256 !== undefined) {
    try {
      size = (await stat(opts.path)).size;
    } catch (e) {
      return fail({ code: 'RB_MAAS_LOCAL_IO', message: `cannot read ${opts.path}: ${e instanceof Error ? e.message : String(e)}` });
    }
    sha256 = opts.sha256.toLowerCase();
  } else {
    report({ phase: 'hashing', bytesSent: 0, totalBytes: 0 });
    const h = await hashFile(opts.path);
    if (!h.ok) return h;
    ({ size, sha256 } = h.value);
  }
  if (size === 0) return fail(uploadError(`${opts.path} is empty; MAAS refuses empty uploads ("Missing data.")`));

  // 1. Continue an unfinished upload of this very file, or create the resource.
  let resource: MaasBootResource | undefined;
  let located: LocatedFile | undefined;
  if (opts.resumeExisting !== false) {
    const ex = await findExisting(client, opts.name, opts.architecture, sha256, size);
    if (!ex.ok) return ex;
    if (ex.value !== undefined) ({ resource, located } = ex.value);
  }
  if (resource === undefined || located === undefined) {
    const created = await createBootResource(client, {
      name: opts.name,
      architecture: opts.architecture,
      title: opts.title,
      filetype: opts.filetype ?? 'ddgz',
      base_image: opts.base_image,
      sha256,
      size,
    });
    if (!created.ok) return created;
    resource = created.value;
    located = findUploadFile(resource, sha256, size);
    if (located === undefined) {
      return fail(uploadError(`MAAS created boot resource ${resource.id} but lists no file with sha256 ${sha256} and size ${size}`));
    }
  }
  const resourceId = resource.id;
  if (located.file.complete) {
    report({ phase: 'complete', bytesSent: size, totalBytes: size });
    return ok({ resourceId, sha256, size, alreadyComplete: true, startedFrom: size, resumes: 0, chunksSent: 0, resource });
  }
  const uploadUri = located.file.upload_uri;
  if (uploadUri === undefined) return fail(uploadError(`boot resource ${resourceId} has an incomplete file without an upload_uri`));

  let offset = bytesFromProgress(located.file.progress ?? 0, size, regionCount);
  const startedFrom = offset;
  let resumes = 0;
  let chunksSent = 0;
  let lastError: MaasError | undefined;
  report(offset > 0 ? { phase: 'uploading', bytesSent: offset, totalBytes: size, resumedFrom: offset } : { phase: 'uploading', bytesSent: 0, totalBytes: size });

  /** After an interruption: what does MAAS hold now? */
  const recover = async (candidates: number[]): Promise<MaasResult<{ offset: number; complete: boolean }>> => {
    const cur = await readBootResource(client, resourceId);
    if (!cur.ok) return cur;
    const f = findUploadFile(cur.value, sha256, size);
    if (f === undefined) return fail(uploadError(`boot resource ${resourceId} no longer has the file being uploaded`));
    if (f.file.complete) return ok({ offset: size, complete: true });
    const progress = f.file.progress ?? 0;
    for (const n of [regionCount, 1, 2, 3, 4, 5, 6, 7, 8]) {
      const est = bytesFromProgress(progress, size, n);
      if (candidates.includes(est)) return ok({ offset: est, complete: false });
    }
    return fail(
      uploadError(
        `cannot tell how much of ${opts.path} MAAS holds: progress ${progress}% matches neither ${candidates.join(' nor ')} bytes`,
        lastError ? { cause: lastError.code } : {},
      ),
    );
  };

  // 2. Chunks, in order.
  while (offset < size) {
    const start = offset;
    const len = Math.min(chunkSize, size - start);
    const r = await client.request({
      method: 'PUT',
      path: uploadUri,
      body: () => ({
        data: createReadStream(opts.path, { start, end: start + len - 1, highWaterMark: 256 * 1024 }),
        contentType: 'application/octet-stream',
        length: len,
      }),
      // The upload loop decides: a retried append must first learn what MAAS already holds.
      retry: false,
      timeoutMs: opts.chunkTimeoutMs,
    });
    if (r.ok) {
      offset = start + len;
      chunksSent++;
      report({ phase: 'uploading', bytesSent: offset, totalBytes: size, ...(startedFrom > 0 ? { resumedFrom: startedFrom } : {}) });
      continue;
    }
    const e = r.error;
    lastError = e;
    const text = e.body ?? '';
    if (e.code === 'RB_MAAS_BAD_REQUEST' && /does not match given SHA256/i.test(text)) {
      return fail(uploadError(`MAAS rejected the upload of ${opts.path}: ${text.trim()} (was the file modified during the upload?)`, { httpStatus: 400, body: text }));
    }
    const resumable =
      e.code === 'RB_MAAS_NETWORK' ||
      e.code === 'RB_MAAS_TIMEOUT' ||
      e.code === 'RB_MAAS_UNAVAILABLE' ||
      e.code === 'RB_MAAS_GATEWAY_TIMEOUT' ||
      e.code === 'RB_MAAS_SERVER_ERROR' ||
      e.code === 'RB_MAAS_WRONG_STATE' ||
      e.code === 'RB_MAAS_CONFLICT' ||
      (e.code === 'RB_MAAS_BAD_REQUEST' && /complete file|Too much data/i.test(text));
    if (!resumable) return fail({ ...e, message: `uploading ${opts.path} to boot resource ${resourceId} failed at byte ${start}: ${e.message}` });
    if (resumes >= maxResumes) {
      return fail(uploadError(`upload of ${opts.path} interrupted ${resumes + 1} times, giving up at byte ${start}: ${e.message}`, { cause: e.code }));
    }
    resumes++;
    await client.pause(e.retryAfterSec !== undefined ? e.retryAfterSec * 1000 : Math.min(30_000, 500 * 2 ** (resumes - 1)));
    const rec = await recover([start, start + len]);
    if (!rec.ok) return rec;
    offset = rec.value.offset;
    report({ phase: 'uploading', bytesSent: offset, totalBytes: size, resumedFrom: offset });
  }

  // 3. MAAS verified the sha256 with the last byte; wait for it to call the file complete.
  report({ phase: 'verifying', bytesSent: size, totalBytes: size });
  const polls = Math.max(1, Math.floor(opts.completionPolls ?? 30));
  for (let i = 0; i < polls; i++) {
    const cur = await readBootResource(client, resourceId);
    if (!cur.ok) return cur;
    const f = findUploadFile(cur.value, sha256, size);
    if (f?.file.complete === true) {
      report({ phase: 'complete', bytesSent: size, totalBytes: size });
      return ok({ resourceId, sha256, size, alreadyComplete: false, startedFrom, resumes, chunksSent, resource: cur.value });
    }
    if (i + 1 < polls) await client.pause(opts.completionPollMs ?? 2000);
  }
  return fail(uploadError(`MAAS holds all ${size} bytes of ${opts.path} but boot resource ${resourceId} never reported complete`));
}
