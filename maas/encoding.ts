// Request encoding the way MAAS (Django + piston3) reads it:
// - operations ride in the query string (`?op=deploy`), the first place MAAS's dispatcher looks;
// - bodies are application/x-www-form-urlencoded (or multipart/form-data for file uploads), never
//   JSON: piston turns a JSON body into request.data and empties request.POST, which is what
//   deploy/power_on read, so a JSON deploy silently uses the defaults;
// - lists are repeated keys (`tags=a&tags=b`); axios' default `tags[]=a` is "No such constraint.".

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';

export type FormScalar = string | number | boolean;
export type FormValue = FormScalar | readonly FormScalar[] | null | undefined;
export type FormParams = Readonly<Record<string, FormValue>>;

function scalar(v: FormScalar): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/** Appends params as repeated keys in insertion order; null/undefined are left out, booleans become true/false. */
export function appendParams(target: URLSearchParams, params: FormParams | undefined): URLSearchParams {
  if (params === undefined) return target;
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      for (const item of v as readonly FormScalar[]) target.append(k, scalar(item));
    } else {
      target.append(k, scalar(v as FormScalar));
    }
  }
  return target;
}

/** A form body (`a=1&tags=x&tags=y`). */
export function formBody(params: FormParams | undefined): URLSearchParams {
  return appendParams(new URLSearchParams(), params);
}

/** The query string for a request: `op` first (MAAS's dispatcher reads it from here), then params. */
export function queryString(op: string | undefined, params?: FormParams): string {
  const q = new URLSearchParams();
  if (op !== undefined) q.append('op', op);
  appendParams(q, params);
  const s = q.toString();
  return s === '' ? '' : '?' + s;
}

/** Ensures the MAAS trailing slash on a resource path: `machines/abc` -> `machines/abc/`. */
export function withTrailingSlash(path: string): string {
  return path.endsWith('/') ? path : path + '/';
}

/** Encodes one path segment (system ids and tag names are plain, but never trust that). */
export function seg(s: string): string {
  return encodeURIComponent(s);
}

export interface MultipartFile {
  /** Form field name, `content` for boot resources. */
  field: string;
  filename: string;
  contentType?: string;
  /** A path to stream from disk, or bytes already in memory. */
  source: { path: string; size: number } | { data: Uint8Array };
}

export interface MultipartBody {
  contentType: string;
  length: number;
  /** A fresh stream each call, so a retried request can resend the body. */
  stream(): Readable;
}

function quoteName(s: string): string {
  return s.replace(/[\r\n"]/g, (c) => (c === '"' ? '%22' : ' '));
}

/**
 * multipart/form-data with text fields (repeated keys for lists) and files. Files on disk are
 * streamed, never read whole into memory; the total length is known up front so Content-Length is exact.
 */
export function multipartBody(fields: FormParams, files: readonly MultipartFile[]): MultipartBody {
  const boundary = '----rackboot-maas-' + randomBytes(12).toString('hex');
  const parts: ({ kind: 'buf'; data: Buffer } | { kind: 'file'; path: string; size: number })[] = [];
  for (const [k, v] of formBody(fields)) {
    parts.push({
      kind: 'buf',
      data: Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(k)}"\r\n\r\n${v}\r\n`, 'utf8'),
    });
  }
  for (const f of files) {
    parts.push({
      kind: 'buf',
      data: Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(f.field)}"; filename="${quoteName(f.filename)}"\r\n` +
          `Content-Type: ${f.contentType ?? 'application/octet-stream'}\r\n\r\n`,
        'utf8',
      ),
    });
    if ('path' in f.source) parts.push({ kind: 'file', path: f.source.path, size: f.source.size });
    else parts.push({ kind: 'buf', data: Buffer.from(f.source.data) });
    parts.push({ kind: 'buf', data: Buffer.from('\r\n') });
  }
  parts.push({ kind: 'buf', data: Buffer.from(`--${boundary}--\r\n`) });
  const length = parts.reduce((n, p) => n + (p.kind === 'buf' ? p.data.length : p.size), 0);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    stream(): Readable {
      const out = new PassThrough();
      void (async () => {
        try {
          for (const p of parts) {
            if (p.kind === 'buf') {
              if (!out.write(p.data)) await new Promise<void>((r) => out.once('drain', () => r()));
            } else {
              for await (const chunk of createReadStream(p.path)) {
                if (!out.write(chunk as Buffer)) await new Promise<void>((r) => out.once('drain', () => r()));
              }
            }
          }
          out.end();
        } catch (e) {
          out.destroy(e instanceof Error ? e : new Error(String(e)));
        }
      })();
      return out;
    },
  };
}
