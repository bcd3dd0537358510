// The HTTP core: one axios instance, an OAuth header built per attempt, form bodies, error mapping
// and the retry rule MAAS clients converged on (juju/gomaasapi dispatchRequest, LP#2034014):
//   - 409 or 503 carrying an integer Retry-After: wait that long and retry, any method;
//   - 502/503/504, a timeout or a reset connection on an idempotent request (GET): back off and retry;
//   - a refused connection (the request never reached MAAS): back off and retry, any method;
//   - everything else, including a plain 409 (wrong state) and a 503 without Retry-After on a POST
//     (IP exhaustion, power driver problem: operator action), is returned at once.
// Every attempt is re-signed with a fresh nonce and timestamp; a cached header would be a replay.

import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Static, TSchema } from '@sinclair/typebox';
import { authorizationHeader, parseApiKey, type MaasApiKey } from './auth.js';
import { formBody, queryString, type FormParams } from './encoding.js';
import { fail, MaasConfigError, ok, type MaasError, type MaasErrorCode, type MaasResult } from './errors.js';
import { checkSchema } from './schema.js';
import { statusFromName } from './status.js';

type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/** pino-compatible; every method optional. Request logs carry method, path, op, status: never the key. */
export interface MaasLogger {
  debug?: LogFn;
  info?: LogFn;
  warn?: LogFn;
  error?: LogFn;
}

export interface MaasClientOptions {
  /** `http://maas:5240/MAAS` or the API root `http://maas:5240/MAAS/api/2.0/`. */
  baseUrl: string;
  /** `consumer_key:token_key:token_secret`. */
  apiKey: string;
  /** Per-attempt timeout. Default 120 s (query_power_state alone may block 60 s on a BMC). */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 4, as gomaasapi. */
  retries?: number;
  /** Exponential backoff for retries without Retry-After. Default 500 ms doubling to 15 s, ±20 % jitter. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Upper bound on a Retry-After wait. Default 60 s. */
  maxRetryAfterMs?: number;
  logger?: MaasLogger;
  /** Injectable wait (tests record the delays instead of sleeping). */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable wall clock for OAuth timestamps (ms since the epoch). */
  now?: () => number;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestBody {
  data: Readable | Buffer | string;
  contentType: string;
  length?: number;
}

export interface MaasRequest {
  method: HttpMethod;
  /** Relative to the API root (`machines/abc/`), or absolute from the host (`/MAAS/api/2.0/...`). */
  path: string;
  op?: string;
  /** Query parameters (lists become repeated keys). */
  query?: FormParams;
  /** Form body (application/x-www-form-urlencoded, repeated keys). */
  form?: FormParams;
  /** Any other body; a factory so that a retry can send it again (streams are single-use). */
  body?: () => RequestBody;
  timeoutMs?: number;
  /** Safe to repeat after a timeout or a reset connection. Default: GET only. */
  idempotent?: boolean;
  /** Set false to make exactly one attempt. */
  retry?: boolean;
  signal?: AbortSignal;
}

export interface MaasResponse {
  status: number;
  contentType: string;
  headers: Record<string, string>;
  text: string;
  /** Parsed body when MAAS said application/json, else undefined. */
  json: unknown;
  attempts: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const BODY_SNIPPET = 2000;

/** Resolves a base URL to the API root, always ending in `/api/2.0/`. */
export function apiRootFromBaseUrl(baseUrl: string): MaasResult<URL> {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return fail({ code: 'RB_MAAS_BAD_CONFIG', message: `MAAS baseUrl is not a URL: ${JSON.stringify(baseUrl)}` });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return fail({ code: 'RB_MAAS_BAD_CONFIG', message: `MAAS baseUrl must be http or https, got ${u.protocol}` });
  }
  if (u.username !== '' || u.password !== '') {
    return fail({ code: 'RB_MAAS_BAD_CONFIG', message: 'MAAS baseUrl must not carry credentials; use apiKey' });
  }
  u.search = '';
  u.hash = '';
  let p = u.pathname.replace(/\/+$/, '');
  if (!p.endsWith('/api/2.0')) p += '/api/2.0';
  u.pathname = p + '/';
  return ok(u);
}

/** Integer seconds only: MAAS sends `Retry-After: 5` (409) or `10` (503), and gomaasapi ignores anything else. */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return /^\d{1,6}$/.test(t) ? Number(t) : undefined;
}

/** MAAS's 400 field errors: a JSON object whose values are lists of strings. */
function fieldErrors(json: unknown): Record<string, string[]> | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[];
    else if (typeof v === 'string') out[k] = [v];
    else return undefined;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The machine status named in a NodeStateViolation sentence, when it names one:
 * deploy "Can't deploy a machine that is in the 'Deployed' state", release "Machine cannot be released
 * in its current state ('Commissioning').", abort "Cannot abort in current state: node x is in state Ready.".
 * ("Can't mark a non-broken node as 'Ready'." names the target, not the status, and is not matched.)
 */
export function statusFromConflictText(text: string): { status: number | null; name: string } | undefined {
  const m =
    /is in the '([^']+)' state/.exec(text) ??
    /in its current state \('([^']+)'\)/.exec(text) ??
    /is in state ([^.]+)\.?\s*$/.exec(text);
  if (m === null) return undefined;
  const name = m[1]!.trim();
  return { status: statusFromName(name) ?? null, name };
}

function isNoMatchText(text: string): boolean {
  return /^No (available )?machine/i.test(text.trim());
}

function codeForStatus(status: number): MaasErrorCode {
  switch (status) {
    case 400:
      return 'RB_MAAS_BAD_REQUEST';
    case 401:
      return 'RB_MAAS_UNAUTHORIZED';
    case 403:
      return 'RB_MAAS_FORBIDDEN';
    case 404:
      return 'RB_MAAS_NOT_FOUND';
    case 503:
      return 'RB_MAAS_UNAVAILABLE';
    case 504:
      return 'RB_MAAS_GATEWAY_TIMEOUT';
    default:
      return status >= 500 ? 'RB_MAAS_SERVER_ERROR' : 'RB_MAAS_HTTP';
  }
}

interface Ctx {
  method: string;
  path: string;
  op: string | undefined;
  attempts: number;
}

/** Maps a non-2xx MAAS answer to a MaasError carrying MAAS's own text. */
export function mapHttpError(status: number, headers: Record<string, string>, text: string, json: unknown, ctx: Ctx): MaasError {
  const contentType = headers['content-type'] ?? '';
  const retryAfterSec = parseRetryAfter(headers['retry-after']);
  const isHtml = /text\/html/i.test(contentType) || /^\s*</.test(text);
  const fields = status === 400 ? fieldErrors(json) : undefined;
  const snippet = text.length > BODY_SNIPPET ? text.slice(0, BODY_SNIPPET) + '…' : text;
  const sentence = fields
    ? Object.entries(fields)
        .map(([k, v]) => `${k}: ${v.join(' ')}`)
        .join('; ')
    : isHtml
      ? ''
      : text.trim().slice(0, 500);
  const what = `${ctx.method} ${ctx.path}${ctx.op !== undefined ? ` op=${ctx.op}` : ''}`;
  const base: MaasError = {
    code: codeForStatus(status),
    message: '',
    httpStatus: status,
    method: ctx.method,
    path: ctx.path,
    body: snippet,
    attempts: ctx.attempts,
  };
  if (ctx.op !== undefined) base.op = ctx.op;
  if (fields) base.fields = fields;
  if (retryAfterSec !== undefined) base.retryAfterSec = retryAfterSec;

  if (status === 409) {
    if (retryAfterSec !== undefined) {
      base.code = 'RB_MAAS_CONFLICT';
      base.message = `MAAS kept answering 409 (retryable conflict, Retry-After ${retryAfterSec} s) to ${what} after ${ctx.attempts} attempts`;
    } else if (isNoMatchText(text)) {
      base.code = 'RB_MAAS_NO_MATCH';
      base.message = `MAAS found no machine for ${what}: ${sentence}`;
    } else {
      base.code = 'RB_MAAS_WRONG_STATE';
      const st = statusFromConflictText(text);
      if (st !== undefined) base.machineStatus = st;
      base.message = `MAAS refused ${what} in the current state${st ? ` ('${st.name}')` : ''}: ${sentence}`;
    }
    return base;
  }
  const hint =
    status === 401 && /Expired timestamp/.test(text)
      ? ' (check this host clock against MAAS: timestamps older than 300 s are refused)'
      : status === 401 && /Invalid API key|Invalid access token/.test(text)
        ? ' (the API key is unknown to MAAS or was revoked)'
        : '';
  const body = sentence !== '' ? `: ${sentence}` : isHtml ? ' (HTML body)' : '';
  base.message = `MAAS answered ${status} to ${what}${body}${hint}`;
  return base;
}

function headerRecord(res: AxiosResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers as Record<string, unknown>)) {
    if (typeof v === 'string') out[k.toLowerCase()] = v;
    else if (typeof v === 'number') out[k.toLowerCase()] = String(v);
    else if (Array.isArray(v)) out[k.toLowerCase()] = v.join(', ');
  }
  return out;
}

interface TransportFailure {
  code: 'RB_MAAS_TIMEOUT' | 'RB_MAAS_NETWORK' | 'RB_MAAS_ABORTED';
  cause: string;
  message: string;
}

function transportFailure(e: unknown): TransportFailure {
  if (axios.isCancel(e)) return { code: 'RB_MAAS_ABORTED', cause: 'ABORTED', message: 'request aborted by the caller' };
  const errCode =
    e !== null && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string'
      ? (e as { code: string }).code
      : 'UNKNOWN';
  const msg = e instanceof Error ? e.message : String(e);
  if (errCode === 'ETIMEDOUT' || errCode === 'ECONNABORTED' || /timeout/i.test(msg)) {
    return { code: 'RB_MAAS_TIMEOUT', cause: errCode, message: msg };
  }
  return { code: 'RB_MAAS_NETWORK', cause: errCode, message: msg };
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class MaasClient {
  readonly apiRoot: URL;
  private readonly key: MaasApiKey;
  private readonly http: AxiosInstance;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffBase: number;
  private readonly backoffMax: number;
  private readonly maxRetryAfterMs: number;
  private readonly log: MaasLogger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  /** Throws MaasConfigError (carrying a MaasError) on a bad key or URL; see MaasClient.create for a value. */
  constructor(opts: MaasClientOptions) {
    const key = parseApiKey(opts.apiKey);
    if (!key.ok) throw new MaasConfigError(key.error);
    const root = apiRootFromBaseUrl(opts.baseUrl);
    if (!root.ok) throw new MaasConfigError(root.error);
    this.key = key.value;
    this.apiRoot = root.value;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = Math.max(0, Math.floor(opts.retries ?? 4));
    this.backoffBase = opts.backoff?.baseMs ?? 500;
    this.backoffMax = opts.backoff?.maxMs ?? 15_000;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
    this.log = opts.logger ?? {};
    this.sleep = opts.sleep ?? defaultSleep;
    this.now = opts.now ?? Date.now;
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.httpsAgent = new https.Agent({ keepAlive: true });
    this.http = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      proxy: false,
      maxRedirects: 0,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      responseType: 'arraybuffer',
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
    });
  }

  static create(opts: MaasClientOptions): MaasResult<MaasClient> {
    try {
      return ok(new MaasClient(opts));
    } catch (e) {
      if (e instanceof MaasConfigError) return fail(e.maas);
      throw e;
    }
  }

  /** Waits with the client's (injectable) sleep; used between polls and before resuming uploads. */
  pause(ms: number): Promise<void> {
    return this.sleep(ms);
  }

  /** Closes pooled keep-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** Absolute URL for a path relative to the API root (or absolute from the host). */
  url(path: string, op?: string, query?: FormParams): string {
    const u = path.startsWith('/') ? new URL(path, this.apiRoot.origin) : new URL(path, this.apiRoot);
    const extra = queryString(op, query);
    if (extra !== '') u.search = u.search === '' ? extra : u.search + '&' + extra.slice(1);
    return u.toString();
  }

  private displayPath(path: string): string {
    if (!path.startsWith('/')) return path;
    const rootPath = this.apiRoot.pathname;
    return path.startsWith(rootPath) ? path.slice(rootPath.length) : path;
  }

  private backoffDelay(attempt: number): number {
    const d = Math.min(this.backoffMax, this.backoffBase * 2 ** (attempt - 1));
    return Math.round(d * (0.8 + 0.4 * Math.random()));
  }

  /** Sends one logical request (with retries). 2xx resolves ok; anything else is a MaasError value. */
  async request(req: MaasRequest): Promise<MaasResult<MaasResponse>> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    const maxAttempts = req.retry === false ? 1 : this.retries + 1;
    const path = this.displayPath(req.path);
    const target = this.url(req.path, req.op, req.query);
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = {
        // Built here, per attempt: fresh nonce and timestamp every time (MAAS rejects replays).
        Authorization: authorizationHeader(this.key, { now: this.now() }),
        Accept: 'application/json, text/plain;q=0.9, */*;q=0.5',
      };
      let data: Readable | Buffer | string | undefined;
      if (req.body !== undefined) {
        const b = req.body();
        data = b.data;
        headers['Content-Type'] = b.contentType;
        if (b.length !== undefined) headers['Content-Length'] = String(b.length);
      } else if (req.form !== undefined) {
        data = formBody(req.form).toString();
        headers['Content-Type'] = 'application/x-www-form-urlencoded';
      }
      let res: AxiosResponse<ArrayBuffer | Buffer>;
      try {
        res = await this.http.request<ArrayBuffer | Buffer>({
          method: req.method,
          url: target,
          headers,
          data,
          timeout: req.timeoutMs ?? this.timeoutMs,
          signal: req.signal,
        });
      } catch (e) {
        const t = transportFailure(e);
        if (data !== undefined && typeof data === 'object' && 'destroy' in data && !Buffer.isBuffer(data)) data.destroy();
        const retryable = t.code !== 'RB_MAAS_ABORTED' && (t.cause === 'ECONNREFUSED' || idempotent);
        if (retryable && attempt < maxAttempts) {
          const delay = this.backoffDelay(attempt);
          this.log.warn?.({ method: req.method, path, op: req.op, attempt, cause: t.cause, delayMs: delay }, 'MAAS request failed in transport; retrying');
          await this.sleep(delay);
          continue;
        }
        const err: MaasError = {
          code: t.code,
          message: `${req.method} ${path}${req.op !== undefined ? ` op=${req.op}` : ''} failed: ${t.message}`,
          method: req.method,
          path,
          attempts: attempt,
          cause: t.cause,
        };
        if (req.op !== undefined) err.op = req.op;
        return fail(err);
      }
      const hdrs = headerRecord(res);
      const raw = Buffer.isBuffer(res.data) ? res.data : Buffer.from(res.data ?? new ArrayBuffer(0));
      const text = raw.toString('utf8');
      const contentType = hdrs['content-type'] ?? '';
      let json: unknown;
      if (/application\/json/i.test(contentType) && text.trim() !== '') {
        try {
          json = JSON.parse(text) as unknown;
        } catch {
          json = undefined;
        }
      }
      if (res.status >= 200 && res.status < 300) {
        this.log.debug?.({ method: req.method, path, op: req.op, status: res.status, attempt }, 'MAAS request');
        return ok({ status: res.status, contentType, headers: hdrs, text, json, attempts: attempt });
      }
      const retryAfter = parseRetryAfter(hdrs['retry-after']);
      let delay: number | undefined;
      if ((res.status === 409 || res.status === 503) && retryAfter !== undefined) {
        delay = Math.min(retryAfter * 1000, this.maxRetryAfterMs);
      } else if ((res.status === 502 || res.status === 503 || res.status === 504) && idempotent) {
        delay = this.backoffDelay(attempt);
      }
      if (delay !== undefined && attempt < maxAttempts) {
        this.log.warn?.(
          { method: req.method, path, op: req.op, status: res.status, attempt, retryAfterSec: retryAfter, delayMs: delay },
          'MAAS asked to retry',
        );
        await this.sleep(delay);
        continue;
      }
      const err = mapHttpError(res.status, hdrs, text, json, { method: req.method, path, op: req.op, attempts: attempt });
      this.log.debug?.({ method: req.method, path, op: req.op, status: res.status, code: err.code, attempt }, 'MAAS request failed');
      return fail(err);
    }
  }

  /** A request whose 2xx body must be JSON of the given shape. */
  async json<S extends TSchema>(req: MaasRequest, schema: S, what: string): Promise<MaasResult<Static<S>>> {
    const r = await this.request(req);
    if (!r.ok) return r;
    if (r.value.json === undefined) {
      return fail({
        code: 'RB_MAAS_BAD_RESPONSE',
        message: `MAAS answered ${req.method} ${this.displayPath(req.path)} with ${r.value.contentType || 'no content type'}, expected JSON ${what}`,
        httpStatus: r.value.status,
        method: req.method,
        path: this.displayPath(req.path),
        body: r.value.text.slice(0, BODY_SNIPPET),
        attempts: r.value.attempts,
      });
    }
    const checked = checkSchema(schema, r.value.json, what);
    if (!checked.ok) {
      return fail({ ...checked.error, method: req.method, path: this.displayPath(req.path), httpStatus: r.value.status, attempts: r.value.attempts });
    }
    return checked;
  }

  get(path: string, opts: Omit<MaasRequest, 'method' | 'path'> = {}): Promise<MaasResult<MaasResponse>> {
    return this.request({ ...opts, method: 'GET', path });
  }

  post(path: string, opts: Omit<MaasRequest, 'method' | 'path'> = {}): Promise<MaasResult<MaasResponse>> {
    return this.request({ ...opts, method: 'POST', path });
  }
}
