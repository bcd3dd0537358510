// Pushes the images/artifacts of an OCI layout archive to a registry through the OCI distribution
// API (distribution-spec spec.md): per blob, HEAD to skip what the registry has, a cross-repository
// mount when a source repository is given, otherwise a chunked upload session (POST, PATCH with
// Content-Range, PUT ?digest=); then the manifest PUT under its tag. Basic and Bearer token auth
// (the WWW-Authenticate challenge of a 401, token from its realm) are handled per request.

import { createHash } from 'node:crypto';
import type { Agent } from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Logger } from 'pino';
import { OciLayoutArchive, type OciDescriptor } from './oci-layout-archive.js';

export interface PushTarget {
  /** `http://127.0.0.1:5000` or `https://zot.example:30003`. */
  registry: string;
  repository: string;
  credentials?: { username: string; password: string };
  /** Repository on the same registry to mount existing blobs from. */
  mountFrom?: string;
  chunkBytes?: number;
  /** TLS trust for an https registry (CA, pin, or explicitly unverified); default: the system CAs. */
  httpsAgent?: Agent;
  /** Abandons the push (requests in flight included). */
  signal?: AbortSignal;
  /** Longest wait for one request's answer (a chunk upload included). Default 120 s. */
  requestTimeoutMs?: number;
  /** Told as each manifest is stored, before the next one starts. */
  onManifest?: (m: PushedManifest) => Promise<void>;
}

export interface PushedManifest {
  tag: string;
  digest: string;
  mediaType: string;
  blobs: { digest: string; size: number; action: 'present' | 'mounted' | 'uploaded' }[];
}

/**
 * `archive`: the bundle itself is unusable (retrying cannot help); `refused`: the registry turned the
 * credentials down; `registry`: anything else on the way (network, 5xx...), worth retrying.
 */
export type PushFailure = 'archive' | 'refused' | 'registry';

export type PushResult = { ok: true; manifests: PushedManifest[] } | { ok: false; error: string; kind: PushFailure };

class ArchiveProblem extends Error {}

interface Manifest {
  mediaType?: string;
  config?: OciDescriptor;
  layers?: OciDescriptor[];
  blobs?: OciDescriptor[];
}

export async function pushOciArchive(archivePath: string, t: PushTarget, log: Logger): Promise<PushResult> {
  let layout: OciLayoutArchive;
  try {
    layout = await OciLayoutArchive.open(archivePath);
  } catch (e) {
    return { ok: false, error: (e as Error).message, kind: 'archive' };
  }
  const reg = new RegistrySession(t);
  try {
    const index = await archiveStep(() => layout.readJson<{ manifests?: OciDescriptor[] }>('index.json'));
    const out: PushedManifest[] = [];
    if ((index.manifests ?? []).length === 0) return { ok: false, error: `${archivePath}: index.json lists no manifests`, kind: 'archive' };
    for (const desc of index.manifests ?? []) {
      const tag = desc.annotations?.['org.opencontainers.image.ref.name'] ?? desc.digest;
      const raw = await archiveStep(() => layout.readBlob(desc.digest));
      if (`sha256:${createHash('sha256').update(raw).digest('hex')}` !== desc.digest) return { ok: false, error: `manifest ${desc.digest} in the archive does not match its digest`, kind: 'archive' };
      const m = await archiveStep(async () => JSON.parse(raw.toString('utf8')) as Manifest);
      const blobs: PushedManifest['blobs'] = [];
      for (const b of [...(m.config ? [m.config] : []), ...(m.layers ?? []), ...(m.blobs ?? [])]) {
        if (layout.blobEntry(b.digest)?.size !== b.size) return { ok: false, error: `blob ${b.digest} is missing from the archive or has the wrong size`, kind: 'archive' };
        const action = await reg.ensureBlob(layout, b);
        log.info({ repository: t.repository, digest: b.digest, size: b.size, action }, 'OCI blob');
        blobs.push({ digest: b.digest, size: b.size, action });
      }
      const mediaType = m.mediaType ?? desc.mediaType;
      const res = await reg.req('PUT', `/v2/${t.repository}/manifests/${encodeURIComponent(tag)}`, { data: raw, headers: { 'Content-Type': mediaType } });
      if (res.status !== 201) return { ok: false, error: `manifest PUT ${tag}: HTTP ${res.status} ${String(res.data).slice(0, 300)}`, kind: refusedOr(res.status) };
      const digest = String(res.headers['docker-content-digest'] ?? desc.digest);
      if (digest !== desc.digest) return { ok: false, error: `registry stored manifest ${tag} as ${digest}, expected ${desc.digest}`, kind: 'registry' };
      const pushed = { tag, digest, mediaType, blobs };
      out.push(pushed);
      await t.onManifest?.(pushed);
    }
    return { ok: true, manifests: out };
  } catch (e) {
    if (e instanceof ArchiveProblem) return { ok: false, error: e.message, kind: 'archive' };
    if (e instanceof RegistryRefused) return { ok: false, error: e.message, kind: 'refused' };
    return { ok: false, error: t.signal?.aborted === true ? `push abandoned: ${String(t.signal.reason)}` : (e as Error).message, kind: 'registry' };
  }
}

async function archiveStep<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw new ArchiveProblem((e as Error).message);
  }
}

class RegistryRefused extends Error {}

function refusedOr(status: number): PushFailure {
  return status === 401 || status === 403 ? 'refused' : 'registry';
}

/** Throws for a non-success answer, as refused (401/403) or a registry failure. */
function expectStatus(res: AxiosResponse, ok: number, what: string): void {
  if (res.status === ok) return;
  const msg = `${what}: HTTP ${res.status} ${String(res.data).slice(0, 200)}`.trim();
  throw refusedOr(res.status) === 'refused' ? new RegistryRefused(msg) : new Error(msg);
}

class RegistrySession {
  private readonly http: AxiosInstance;
  private auth: string | undefined;

  constructor(private readonly t: PushTarget) {
    this.http = axios.create({
      baseURL: t.registry,
      validateStatus: () => true,
      maxRedirects: 0,
      proxy: false,
      maxBodyLength: Infinity,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      // A registry that accepts and then says nothing must not hold the push forever.
      timeout: t.requestTimeoutMs ?? 120_000,
      ...(t.httpsAgent === undefined ? {} : { httpsAgent: t.httpsAgent }),
      ...(t.signal === undefined ? {} : { signal: t.signal }),
    });
  }

  async ensureBlob(layout: OciLayoutArchive, b: OciDescriptor): Promise<'present' | 'mounted' | 'uploaded'> {
    const repo = this.t.repository;
    const head = await this.req('HEAD', `/v2/${repo}/blobs/${b.digest}`);
    if (head.status === 200) return 'present';
    let start: AxiosResponse<string>;
    if (this.t.mountFrom !== undefined) {
      start = await this.req('POST', `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(b.digest)}&from=${encodeURIComponent(this.t.mountFrom)}`);
      if (start.status === 201) return 'mounted';
    } else {
      start = await this.req('POST', `/v2/${repo}/blobs/uploads/`);
    }
    expectStatus(start, 202, `upload start for ${b.digest}`);
    let location = this.location(start);
    const chunk = this.t.chunkBytes ?? 8 << 20;
    for (let off = 0; off < b.size; off += chunk) {
      const end = Math.min(b.size, off + chunk);
      const res = await this.req('PATCH', location, {
        data: layout.blobStream(b.digest, off, end),
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(end - off), 'Content-Range': `${off}-${end - 1}` },
      });
      expectStatus(res, 202, `chunk ${off}-${end - 1} of ${b.digest}`);
      location = this.location(res);
    }
    const sep = location.includes('?') ? '&' : '?';
    const done = await this.req('PUT', `${location}${sep}digest=${encodeURIComponent(b.digest)}`, { headers: { 'Content-Length': '0' } });
    expectStatus(done, 201, `upload close for ${b.digest}`);
    return 'uploaded';
  }

  private location(res: AxiosResponse): string {
    const loc = res.headers.location as string | undefined;
    if (loc === undefined) throw new Error('registry answered without Location');
    const u = new URL(loc, this.t.registry);
    if (u.origin !== new URL(this.t.registry).origin) throw new Error(`upload location ${u.origin} is outside the registry`);
    return `${u.pathname}${u.search}`;
  }

  /** One request; on a 401 challenge, authenticates (Basic or Bearer) and repeats it once. */
  async req(method: string, url: string, o: { data?: unknown; headers?: Record<string, string> } = {}): Promise<AxiosResponse<string>> {
    const send = () => this.http.request<string>({ method, url, data: o.data, headers: { ...o.headers, ...(this.auth ? { Authorization: this.auth } : {}) } });
    const res = await send();
    if (res.status !== 401 || typeof o.data === 'object' && o.data !== null && 'pipe' in (o.data as object)) return res;
    if (!(await this.authenticate(String(res.headers['www-authenticate'] ?? '')))) return res;
    return send();
  }

  private async authenticate(challenge: string): Promise<boolean> {
    const c = this.t.credentials;
    if (/^basic/i.test(challenge)) {
      if (c === undefined) return false;
      this.auth = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
      return true;
    }
    if (!/^bearer/i.test(challenge)) return false;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (params.realm === undefined) return false;
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    if (params.scope) u.searchParams.set('scope', params.scope);
    const sameOrigin = u.origin === new URL(this.t.registry).origin;
    const res = await axios.get<{ token?: string; access_token?: string }>(u.toString(), {
      validateStatus: () => true,
      timeout: this.t.requestTimeoutMs ?? 120_000,
      proxy: false,
      ...(sameOrigin && this.t.httpsAgent !== undefined ? { httpsAgent: this.t.httpsAgent } : {}),
      ...(this.t.signal === undefined ? {} : { signal: this.t.signal }),
      ...(c === undefined ? {} : { auth: { username: c.username, password: c.password } }),
    });
    const tok = res.data?.token ?? res.data?.access_token;
    if (res.status !== 200 || tok === undefined) return false;
    this.auth = `Bearer ${tok}`;
    return true;
  }
}
