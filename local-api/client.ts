// Typed client for one appliance host's Local Management API (port 5080, self-signed TLS).
// Paths, bodies and response shapes follow the swagger (spectrocloud/librarium
// docs/api-content/api-docs/edge-v1/emc-api.json); see local-api/README.md.
//
// Retry rules:
//   - 429 (the login endpoint is rate limited) and 503: wait Retry-After (capped) or back off
//     exponentially with jitter, any method: the host refused the request without acting on it;
//   - a refused connection: back off and retry, any method (nothing was delivered);
//   - timeouts, resets and other 5xx: retried for GETs only. POSTs such as link apply and cluster
//     create must not run twice, so their outcome goes back to the caller, who can look at status;
//   - 401 on an authenticated call: log in once more and repeat the call once (the JWT lapsed).

import { stat } from 'node:fs/promises';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import type { Static, TSchema } from '@sinclair/typebox';
import { fail, ok, type LocalApiError, type LocalApiErrorCode, type LocalApiResult } from './errors.js';
import { multipartFromFiles, type FilePart } from './multipart.js';
import {
  conforms,
  firstProblem,
  UploadResponse,
  V1AcceptedResponseWithMessage,
  V1Cluster,
  V1ClusterConfiguration,
  V1EdgeHostInfo,
  V1Error,
  V1HarborContentsSyncStatus,
  V1LifecycleEvents,
  V1LinkStatus,
  V1LinkToken,
  V1LoginSuccess,
  V1Ping,
  V1UploadedContentDetails,
} from './schema.js';
import { createPinnedAgent, PinMismatchError, type LocalApiTlsOptions, type PinnedAgent } from './tls.js';

type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/** pino-compatible. Logs carry method, path, status: never the password or the JWT. */
export interface LocalApiLogger {
  debug?: LogFn;
  info?: LogFn;
  warn?: LogFn;
}

export interface LocalApiClientOptions {
  /** Host address (IP or name) of the appliance. */
  host: string;
  /** Default 5080. */
  port?: number;
  /** The OS user the installer created (the Local UI login). */
  username: string;
  password: string;
  tls: LocalApiTlsOptions;
  /** Ask for a 24 h JWT instead of 2 h. Default true: formation can outlast 2 h on slow racks. */
  extendedSession?: boolean;
  /** Per-request timeout for everything but the upload. Default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 6. */
  retries?: number;
  /** Backoff base and ceiling. Default 500 ms doubling to 30 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Longest Retry-After honoured. Default 60 s. */
  maxRetryAfterMs?: number;
  logger?: LocalApiLogger;
  /** Ends every call in flight and every later one with RB_LOCALAPI_ABORTED (the caller gave up). */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface UploadProgress {
  attempt: number;
  /** File bytes of uploadFile and signature read into the request so far. */
  sentBytes: number;
  totalBytes: number;
}

export interface UploadOptions {
  /** Detached signature of the archive, sent as the `signature` form file. */
  signaturePath?: string;
  onProgress?: (p: UploadProgress) => void;
  /** Whole-upload attempts. Default 3. */
  attempts?: number;
  /** Abort an attempt when no byte moved for this long. Default 120 s. */
  idleTimeoutMs?: number;
}

type Method = 'GET' | 'POST';

interface Call<S extends TSchema> {
  method: Method;
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  schema: S;
  /** Status codes that mean success; default 200. */
  expect?: number[];
  auth?: boolean;
}

const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export class LocalApiClient {
  readonly baseUrl: string;
  private readonly http: AxiosInstance;
  private readonly tlsAgent: PinnedAgent;
  private readonly log: LocalApiLogger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private jwt: string | undefined;

  private constructor(private readonly opts: LocalApiClientOptions, agent: PinnedAgent) {
    this.tlsAgent = agent;
    const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    this.baseUrl = `https://${host}:${opts.port ?? 5080}`;
    this.log = opts.logger ?? {};
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = opts.random ?? Math.random;
    this.http = axios.create({
      baseURL: this.baseUrl,
      httpsAgent: agent.agent,
      proxy: false, // the pin must see the host itself, never an environment proxy
      maxRedirects: 0,
      timeout: opts.timeoutMs ?? 30_000,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      validateStatus: () => true,
    });
  }

  /** Validates the options; a client without a TLS trust decision is refused. */
  static create(opts: LocalApiClientOptions): LocalApiResult<LocalApiClient> {
    if (opts.host.trim() === '' || /[/?#@\s]/.test(opts.host)) {
      return fail({ code: 'RB_LOCALAPI_BAD_CONFIG', message: `host ${JSON.stringify(opts.host)} is not an address or host name` });
    }
    const agent = createPinnedAgent(opts.tls);
    if (agent === undefined) {
      return fail({
        code: 'RB_LOCALAPI_BAD_CONFIG',
        message: 'TLS: give tls.pinSha256 (a SHA-256 fingerprint) or opt in to tls.trustOnFirstUse; an unverified connection is never made',
      });
    }
    return ok(new LocalApiClient(opts, agent));
  }

  /** The certificate fingerprint in force (configured, or learnt on first contact). */
  pinnedFingerprint(): string | undefined {
    return this.tlsAgent.pinned();
  }

  /** Closes pooled sockets. */
  close(): void {
    this.tlsAgent.agent.destroy();
  }

  // ---- operations -------------------------------------------------------------------------

  /** GET /v1/ping: unauthenticated liveness of the Local API. */
  ping(): Promise<LocalApiResult<Static<typeof V1Ping>>> {
    return this.call({ method: 'GET', path: '/v1/ping', schema: V1Ping, auth: false });
  }

  /** POST /v1/users/default/login; keeps the JWT for later calls. */
  async login(): Promise<LocalApiResult<{ isFirstLogin: boolean }>> {
    const r = await this.call({
      method: 'POST',
      path: '/v1/users/default/login',
      query: { setCookie: 'false', extendedSession: String(this.opts.extendedSession ?? true) },
      body: { username: this.opts.username, password: this.opts.password },
      schema: V1LoginSuccess,
      auth: false,
    });
    if (!r.ok) return r;
    this.jwt = r.value.Token.Authorization;
    return ok({ isFirstLogin: r.value.IsFirstLogin === true });
  }

  /** GET /v1/edge-mgmt/edgehosts/current. */
  edgeHost(): Promise<LocalApiResult<Static<typeof V1EdgeHostInfo>>> {
    return this.call({ method: 'GET', path: '/v1/edge-mgmt/edgehosts/current', schema: V1EdgeHostInfo });
  }

  /** POST …/link/generate-token on the leader: `{token, remainingTime, interval}`. */
  generateLinkToken(): Promise<LocalApiResult<Static<typeof V1LinkToken>>> {
    return this.call({ method: 'POST', path: '/v1/edge-mgmt/edgehosts/current/link/generate-token', schema: V1LinkToken });
  }

  /** POST …/current/link on a follower with the leader's token. Not retried: see the header. */
  applyLinkToken(token: Static<typeof V1LinkToken>): Promise<LocalApiResult<Static<typeof V1LinkStatus>>> {
    return this.call({ method: 'POST', path: '/v1/edge-mgmt/edgehosts/current/link', body: token, schema: V1LinkStatus });
  }

  /** GET …/link/status: Pending/InProgress/Completed/Failed with the peers. */
  linkStatus(): Promise<LocalApiResult<Static<typeof V1LinkStatus>>> {
    return this.call({ method: 'GET', path: '/v1/edge-mgmt/edgehosts/current/link/status', schema: V1LinkStatus });
  }

  /** GET …/uploaded-content/details: name, sha256 and size of the last uploaded archive. */
  uploadedContent(): Promise<LocalApiResult<Static<typeof V1UploadedContentDetails>>> {
    return this.call({ method: 'GET', path: '/v1/edge-mgmt/edgehosts/current/uploaded-content/details', schema: V1UploadedContentDetails });
  }

  /** GET /v1/edge-mgmt/cluster/registry/content/sync-status/details. */
  syncStatus(): Promise<LocalApiResult<Static<typeof V1HarborContentsSyncStatus>>> {
    return this.call({ method: 'GET', path: '/v1/edge-mgmt/cluster/registry/content/sync-status/details', schema: V1HarborContentsSyncStatus });
  }

  /** POST /v1/edge-mgmt/cluster → 202. Not retried: creating twice is what the caller guards against. */
  async createCluster(config: Static<typeof V1ClusterConfiguration>): Promise<LocalApiResult<{ message: string }>> {
    if (!conforms(V1ClusterConfiguration, config)) {
      return fail({ code: 'RB_LOCALAPI_BAD_CONFIG', message: `cluster configuration: ${firstProblem(V1ClusterConfiguration, config)}` });
    }
    const r = await this.call({ method: 'POST', path: '/v1/edge-mgmt/cluster', body: config, schema: V1AcceptedResponseWithMessage, expect: [202] });
    return r.ok ? ok({ message: r.value.message ?? '' }) : r;
  }

  /** GET /v1/edge-mgmt/cluster/details; `null` while no cluster exists (404). */
  async clusterDetails(): Promise<LocalApiResult<Static<typeof V1Cluster> | null>> {
    const r = await this.call({ method: 'GET', path: '/v1/edge-mgmt/cluster/details', schema: V1Cluster });
    if (!r.ok && r.error.code === 'RB_LOCALAPI_NOT_FOUND') return ok(null);
    return r;
  }

  /** GET /v1/edge-mgmt/events/lifecycle. */
  lifecycleEvents(): Promise<LocalApiResult<Static<typeof V1LifecycleEvents>>> {
    return this.call({ method: 'GET', path: '/v1/edge-mgmt/events/lifecycle', schema: V1LifecycleEvents });
  }

  /**
   * POST …/actions/upload-content: multipart `uploadFile` (+ optional `signature`) streamed from
   * disk. A failed attempt (network, 5xx, stall) is retried from the first byte; the host keeps
   * only a complete archive, so a repeat is safe.
   */
  async uploadContent(path: string, o: UploadOptions = {}): Promise<LocalApiResult<Static<typeof UploadResponse>>> {
    const parts: FilePart[] = [];
    for (const [field, p] of [['uploadFile', path], ['signature', o.signaturePath]] as const) {
      if (p === undefined) continue;
      try {
        const st = await stat(p);
        if (!st.isFile()) return fail({ code: 'RB_LOCALAPI_LOCAL_IO', message: `${p} is not a regular file` });
        parts.push({ field, path: p, size: st.size });
      } catch (err) {
        return fail({ code: 'RB_LOCALAPI_LOCAL_IO', message: `cannot read ${p}: ${(err as Error).message}` });
      }
    }
    const totalBytes = parts.reduce((n, p) => n + p.size, 0);
    const attempts = Math.max(1, o.attempts ?? 3);
    const apiPath = '/v1/edge-mgmt/edgehosts/current/actions/upload-content';
    let last: LocalApiError | undefined;
    let relogged = false;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.jwt === undefined) {
        const l = await this.login();
        if (!l.ok) return l;
      }
      const r = await this.uploadOnce(apiPath, parts, attempt, totalBytes, o);
      if (r.ok) return r;
      last = r.error;
      if (r.error.code === 'RB_LOCALAPI_UNAUTHORIZED' && !relogged) {
        relogged = true;
        this.jwt = undefined;
        attempt--;
        continue;
      }
      const retryable = ['RB_LOCALAPI_NETWORK', 'RB_LOCALAPI_TIMEOUT', 'RB_LOCALAPI_SERVER_ERROR', 'RB_LOCALAPI_RATE_LIMITED'].includes(r.error.code);
      if (!retryable || attempt === attempts) break;
      const delay = this.backoff(attempt - 1);
      this.log.warn?.({ path: apiPath, attempt, code: r.error.code, delayMs: delay }, 'local-api upload failed; retrying the whole upload');
      await this.pause(delay);
    }
    return fail({ ...last!, attempts });
  }

  private async uploadOnce(path: string, parts: FilePart[], attempt: number, totalBytes: number, o: UploadOptions): Promise<LocalApiResult<Static<typeof UploadResponse>>> {
    const ctrl = new AbortController();
    const giveUp = () => ctrl.abort();
    this.opts.signal?.addEventListener('abort', giveUp, { once: true });
    const idleMs = o.idleTimeoutMs ?? 120_000;
    let idle = setTimeout(() => ctrl.abort(), idleMs);
    const body = multipartFromFiles(parts, (sentBytes) => {
      clearTimeout(idle);
      idle = setTimeout(() => ctrl.abort(), idleMs);
      o.onProgress?.({ attempt, sentBytes, totalBytes });
    });
    try {
      const res = await this.http.request<string>({
        method: 'POST',
        url: path,
        data: body.stream,
        headers: { 'Content-Type': body.contentType, 'Content-Length': String(body.length), Accept: 'application/json', Authorization: this.jwt! },
        maxBodyLength: Infinity,
        maxContentLength: 16 << 20,
        timeout: 0,
        signal: ctrl.signal,
      });
      return this.interpret({ method: 'POST', path, schema: UploadResponse, expect: [201] }, res.status, res.headers['retry-after'] as string | undefined, res.data, attempt).result;
    } catch (err) {
      body.stream.destroy();
      if (this.opts.signal?.aborted) return fail(this.aborted('POST', path, attempt));
      if (ctrl.signal.aborted) return fail({ code: 'RB_LOCALAPI_TIMEOUT', message: `upload stalled for ${idleMs} ms`, method: 'POST', path, attempts: attempt });
      return fail(this.transportError(err, 'POST', path, attempt));
    } finally {
      clearTimeout(idle);
      this.opts.signal?.removeEventListener('abort', giveUp);
    }
  }

  // ---- core ---------------------------------------------------------------------------------

  private async call<S extends TSchema>(c: Call<S>): Promise<LocalApiResult<Static<S>>> {
    const auth = c.auth ?? true;
    if (auth && this.jwt === undefined) {
      const l = await this.login();
      if (!l.ok) return l;
    }
    const budget = this.opts.retries ?? 6;
    let relogged = false;
    for (let attempt = 0; ; attempt++) {
      if (this.opts.signal?.aborted) return fail(this.aborted(c.method, c.path, attempt));
      let outcome: { result: LocalApiResult<Static<S>>; retryInMs?: number };
      try {
        const res = await this.http.request<string>({
          method: c.method,
          url: c.path,
          params: c.query,
          data: c.body === undefined ? undefined : JSON.stringify(c.body),
          headers: {
            Accept: 'application/json',
            ...(c.body === undefined ? {} : { 'Content-Type': 'application/json' }),
            ...(auth ? { Authorization: this.jwt! } : {}),
          },
          ...(this.opts.signal === undefined ? {} : { signal: this.opts.signal }),
        });
        this.log.debug?.({ method: c.method, path: c.path, status: res.status }, 'local-api request');
        outcome = this.interpret(c, res.status, res.headers['retry-after'] as string | undefined, res.data, attempt + 1);
      } catch (err) {
        if (this.opts.signal?.aborted) return fail(this.aborted(c.method, c.path, attempt + 1));
        const e = this.transportError(err, c.method, c.path, attempt + 1);
        const again = e.code === 'RB_LOCALAPI_NETWORK' && NOT_DELIVERED.has(e.cause ?? '') ? true : c.method === 'GET' && (e.code === 'RB_LOCALAPI_NETWORK' || e.code === 'RB_LOCALAPI_TIMEOUT');
        outcome = { result: fail(e), ...(again ? { retryInMs: this.backoff(attempt) } : {}) };
      }
      const r = outcome.result;
      if (!r.ok && r.error.code === 'RB_LOCALAPI_UNAUTHORIZED' && auth && !relogged) {
        relogged = true;
        const l = await this.login();
        if (!l.ok) return l;
        attempt--;
        continue;
      }
      if (outcome.retryInMs === undefined || attempt >= budget) return r;
      this.log.warn?.({ method: c.method, path: c.path, code: r.ok ? undefined : r.error.code, delayMs: outcome.retryInMs, attempt: attempt + 1 }, 'local-api retry');
      await this.pause(outcome.retryInMs);
    }
  }

  private interpret<S extends TSchema>(c: Call<S>, status: number, retryAfter: string | undefined, text: string, attempts: number): { result: LocalApiResult<Static<S>>; retryInMs?: number } {
    const body = parseJson(text);
    const base = { method: c.method, path: c.path, httpStatus: status, attempts };
    if ((c.expect ?? [200]).includes(status)) {
      if (!conforms(c.schema, body)) {
        return { result: fail({ ...base, code: 'RB_LOCALAPI_BAD_RESPONSE', message: `${c.method} ${c.path}: response does not match the swagger (${firstProblem(c.schema, body)})` }) };
      }
      return { result: ok(body as Static<S>) };
    }
    const apiErr = conforms(V1Error, body) ? body : undefined;
    const apiMessage = apiErr?.message ?? (typeof body === 'string' ? body.slice(0, 300) : undefined);
    const code = codeFor(status);
    const err: LocalApiError = {
      ...base,
      code,
      message: `${c.method} ${c.path}: HTTP ${status}${apiMessage ? `: ${apiMessage}` : ''}`,
      ...(apiErr?.code !== undefined ? { apiCode: apiErr.code } : {}),
      ...(apiMessage !== undefined ? { apiMessage } : {}),
    };
    let retryInMs: number | undefined;
    if (status === 429 || status === 503) {
      const after = parseRetryAfter(retryAfter);
      retryInMs = after === undefined ? this.backoff(attempts - 1) : Math.min(after, this.opts.maxRetryAfterMs ?? 60_000);
    } else if (status >= 500 && c.method === 'GET') {
      retryInMs = this.backoff(attempts - 1);
    }
    return { result: fail(err), ...(retryInMs !== undefined ? { retryInMs } : {}) };
  }

  /** A backoff wait that ends early when the caller's signal fires. */
  private async pause(ms: number): Promise<void> {
    const signal = this.opts.signal;
    if (signal === undefined) return this.sleep(ms);
    if (signal.aborted) return;
    let onAbort = () => {};
    const abandoned = new Promise<void>((resolve) => {
      onAbort = resolve;
      signal.addEventListener('abort', onAbort, { once: true });
    });
    await Promise.race([this.sleep(ms), abandoned]);
    signal.removeEventListener('abort', onAbort);
  }

  private aborted(method: string, path: string, attempts: number): LocalApiError {
    return { code: 'RB_LOCALAPI_ABORTED', message: `${method} ${path}: abandoned (${String(this.opts.signal?.reason ?? 'aborted')})`, method, path, attempts };
  }

  private transportError(err: unknown, method: string, path: string, attempts: number): LocalApiError {
    const cause = err instanceof AxiosError && err.cause !== undefined ? err.cause : err;
    if (cause instanceof PinMismatchError || err instanceof PinMismatchError) {
      const pe = (cause instanceof PinMismatchError ? cause : err) as PinMismatchError;
      return { code: 'RB_LOCALAPI_TLS_PIN', message: pe.message, method, path, attempts };
    }
    const errno = errnoOf(err) ?? errnoOf(cause) ?? '';
    const message = err instanceof Error ? err.message : String(err);
    if (/CERT|SSL|TLS|EPROTO/i.test(errno)) return { code: 'RB_LOCALAPI_TLS', message: `${method} ${path}: ${errno} ${message}`, method, path, attempts, cause: errno };
    if (errno === 'ECONNABORTED' || errno === 'ETIMEDOUT' || /timeout/i.test(message)) {
      return { code: 'RB_LOCALAPI_TIMEOUT', message: `${method} ${path} timed out`, method, path, attempts, cause: errno };
    }
    return { code: 'RB_LOCALAPI_NETWORK', message: `${method} ${path}: ${errno || 'connection failed'} ${message}`.trim(), method, path, attempts, ...(errno ? { cause: errno } : {}) };
  }

  private backoff(attempt: number): number {
    const base = this.opts.backoffBaseMs ?? 500;
    const ceiling = Math.min(this.opts.backoffMaxMs ?? 30_000, base * 2 ** attempt);
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }
}

function codeFor(status: number): LocalApiErrorCode {
  if (status === 400) return 'RB_LOCALAPI_BAD_REQUEST';
  if (status === 401) return 'RB_LOCALAPI_UNAUTHORIZED';
  if (status === 403) return 'RB_LOCALAPI_FORBIDDEN';
  if (status === 404) return 'RB_LOCALAPI_NOT_FOUND';
  if (status === 429) return 'RB_LOCALAPI_RATE_LIMITED';
  if (status >= 500) return 'RB_LOCALAPI_SERVER_ERROR';
  return 'RB_LOCALAPI_HTTP';
}

function parseJson(text: string): unknown {
  if (text === '' || text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Retry-After in seconds or as an HTTP date → ms from now. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errnoOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const c = (e as { code?: unknown }).code;
  return typeof c === 'string' ? c : undefined;
}
