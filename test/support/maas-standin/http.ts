// Request parsing and responses the way Django + piston3 present them to MAAS handlers:
//   request.GET  - the query string (a multi-valued dict; .get() returns the LAST value, as QueryDict);
//   request.POST - form fields of a urlencoded or multipart body, EMPTY for a JSON body;
//   request.data - what piston's Mimer produced: the form for form bodies, the decoded JSON object for
//                  application/json (RealGeeks/django-piston3 piston/utils.py Mimer.translate).
// Handlers reading request.POST (deploy, power_on...) therefore ignore JSON; those reading
// request.data (release, allocate's constraints, boot-resource create) accept it.

import type { StandinUser } from './state.js';

export class MultiMap {
  constructor(readonly pairs: [string, string][] = []) {}
  get(k: string): string | undefined {
    for (let i = this.pairs.length - 1; i >= 0; i--) if (this.pairs[i]![0] === k) return this.pairs[i]![1];
    return undefined;
  }
  getAll(k: string): string[] {
    return this.pairs.filter(([x]) => x === k).map(([, v]) => v);
  }
  has(k: string): boolean {
    return this.pairs.some(([x]) => x === k);
  }
  keys(): string[] {
    return [...new Set(this.pairs.map(([k]) => k))];
  }
  /** request.data.lists(): (key, [values]) in first-seen order. */
  lists(): [string, string[]][] {
    return this.keys().map((k) => [k, this.getAll(k)]);
  }
  static fromSearch(s: string): MultiMap {
    return new MultiMap([...new URLSearchParams(s)]);
  }
}

export interface UploadedFile {
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface ParsedRequest {
  method: string;
  /** Path below /MAAS/api/2.0/, e.g. `machines/abc123/`. */
  path: string;
  query: MultiMap;
  POST: MultiMap;
  data: MultiMap;
  files: Map<string, UploadedFile>;
  raw: Buffer;
  contentType: string;
  contentLength: number | undefined;
  json: unknown;
  user: StandinUser | null;
}

export interface Reply {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

/** A handler may also ask for the connection to be cut instead of answering. */
export type HandlerResult = Reply | { drop: true };

export function text(status: number, body: string, headers?: Record<string, string>): Reply {
  const r: Reply = { status, contentType: 'text/plain; charset=utf-8', body };
  if (headers !== undefined) r.headers = headers;
  return r;
}

export function json(value: unknown, status = 200): Reply {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(value) };
}

/** MAASAPIValidationError with an error dict: 400, JSON keyed by field. */
export function fieldErrors(errors: Record<string, string[]>): Reply {
  return json(errors, 400);
}

export const notFound = (model: string): Reply => text(404, `No ${model} matches the given query.`);
/** PermissionDenied -> 403; MAAS's body is the exception text, usually empty. */
export const forbidden = (msg = ''): Reply => text(403, msg);
/** NodeStateViolation / NodesNotAvailable -> 409, no Retry-After. */
export const conflict = (msg: string): Reply => text(409, msg);
export const badRequest = (msg: string): Reply => text(400, msg);

/** Minimal multipart/form-data parser (fields and files), enough for MAAS's `content` upload. */
export function parseMultipart(body: Buffer, contentType: string): { fields: [string, string][]; files: Map<string, UploadedFile> } | null {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (m === null) return null;
  const boundary = Buffer.from('--' + (m[1] ?? m[2]!).trim());
  const fields: [string, string][] = [];
  const files = new Map<string, UploadedFile>();
  let pos = body.indexOf(boundary);
  if (pos < 0) return null;
  for (;;) {
    pos += boundary.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    pos += 2; // CRLF
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) return null;
    const headers = body.subarray(pos, headerEnd).toString('utf8');
    const next = body.indexOf(boundary, headerEnd + 4);
    if (next < 0) return null;
    const content = body.subarray(headerEnd + 4, next - 2); // strip CRLF before the boundary
    const disp = /content-disposition:[^\r\n]*?name="([^"]*)"(?:;\s*filename="([^"]*)")?/i.exec(headers);
    const ct = /content-type:\s*([^\r\n]+)/i.exec(headers);
    if (disp !== null) {
      if (disp[2] !== undefined) files.set(disp[1]!, { filename: disp[2], contentType: ct?.[1] ?? 'application/octet-stream', data: Buffer.from(content) });
      else fields.push([disp[1]!, content.toString('utf8')]);
    }
    pos = next;
  }
  return { fields, files };
}

/** Flattens a decoded JSON object into request.data's multi-valued form. */
function jsonToMultiMap(v: unknown): MultiMap {
  const pairs: [string, string][] = [];
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const items = Array.isArray(x) ? x : [x];
      for (const it of items) pairs.push([k, typeof it === 'string' ? it : JSON.stringify(it)]);
    }
  }
  return new MultiMap(pairs);
}

export function parseBody(method: string, contentType: string, raw: Buffer): Pick<ParsedRequest, 'POST' | 'data' | 'files' | 'json'> {
  const ct = contentType.toLowerCase();
  const empty = { POST: new MultiMap(), data: new MultiMap(), files: new Map<string, UploadedFile>(), json: undefined };
  if (raw.length === 0 || method === 'GET') return empty;
  if (ct.startsWith('application/x-www-form-urlencoded')) {
    const form = MultiMap.fromSearch(raw.toString('utf8'));
    return { POST: form, data: form, files: new Map(), json: undefined };
  }
  if (ct.startsWith('multipart/form-data')) {
    const mp = parseMultipart(raw, contentType);
    if (mp === null) return empty;
    const form = new MultiMap(mp.fields);
    return { POST: form, data: form, files: mp.files, json: undefined };
  }
  if (ct.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8')) as unknown;
    } catch {
      parsed = undefined;
    }
    // Mimer: request.data = the JSON, request.POST emptied.
    return { POST: new MultiMap(), data: jsonToMultiMap(parsed), files: new Map(), json: parsed };
  }
  return empty;
}

/** formencode StringBool as MAAS uses it. */
export function stringBool(v: string | undefined, dflt: boolean): boolean | 'invalid' {
  if (v === undefined) return dflt;
  const s = v.trim().toLowerCase();
  if (['true', 't', 'yes', 'y', 'on', '1'].includes(s)) return true;
  if (['false', 'f', 'no', 'n', 'off', '0', ''].includes(s)) return false;
  return 'invalid';
}
