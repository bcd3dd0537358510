// HTTP transport for one BMC on axios: JSON in and out, one socket at a time, bounded retries with
// exponential backoff and jitter on connection errors and 5xx, Retry-After honoured on 503.
// Authentication lives in the client; this layer only carries the headers it is given.

import axios, { AxiosError, type AxiosInstance, type RawAxiosRequestHeaders } from 'axios';
import type https from 'node:https';
import { hasMessageId, parseErrorBody, RedfishError } from './errors.js';
import type { RedfishLogger } from './logger.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON, the raw text when it is not JSON, or undefined when the body is empty. */
  body: unknown;
}

export interface TransportRequest {
  method: HttpMethod;
  /** Absolute path on the BMC (`/redfish/v1/...`) or a same-origin absolute URL. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Overrides the transport's retry budget for this call (0 = a single attempt). */
  retries?: number;
}

export interface RetryPolicy {
  /** Extra attempts after the first one. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Upper bound for a Retry-After the BMC asks for. */
  maxRetryAfterMs: number;
}

/** One HTTP exchange with the BMC, reported after it ends (bodies and headers are never included). */
export interface RedfishCall {
  method: HttpMethod;
  path: string;
  /** HTTP status, absent when the exchange failed before an answer. */
  status?: number;
  durationMs: number;
  /** 0 for the first attempt, then 1, 2, ... for retries of the same request. */
  attempt: number;
  /** Set when the transport will try again after this exchange. */
  retryInMs?: number;
  /** The error code when no answer came (RB_REDFISH_TIMEOUT, RB_REDFISH_CONNECTION, ...). */
  error?: string;
}

export interface TransportOptions {
  baseUrl: URL;
  agent: https.Agent;
  timeoutMs: number;
  retry: RetryPolicy;
  logger: RedfishLogger;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  onCall?: (call: RedfishCall) => void;
}

// Connection failures where the request certainly never reached the BMC: safe to retry any method.
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// Failures after the request may have been delivered: retried for idempotent methods only.
const MAYBE_DELIVERED = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_SOCKET_CONNECTION_TIMEOUT']);
const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|HOSTNAME|ALTNAME/i;

// "Not ready" answers the anchors retry (sushy connector, sushy's Dell OEM, Ironic): iLO right after a
// power change or during POST, iDRAC not ready, iDRAC out of session slots, iDRAC job running.
const BUSY_MESSAGE_IDS = ['InvalidOperationForSystemState', 'UnableToModifyDuringSystemPOST', 'SYS518', 'RAC0218', 'RAC0679'];

function isIdempotent(method: HttpMethod): boolean {
  return method !== 'POST';
}

/** Retry-After as seconds or an HTTP-date → milliseconds from now (undefined when absent/invalid). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export class Transport {
  private readonly http: AxiosInstance;

  constructor(private readonly opts: TransportOptions) {
    this.http = axios.create({
      baseURL: opts.baseUrl.origin,
      httpsAgent: opts.agent,
      timeout: opts.timeoutMs,
      proxy: false, // BMC traffic never goes through an environment proxy: the pin check must see the BMC.
      maxRedirects: 0,
      decompress: true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
    });
  }

  /** Resolves a BMC-supplied path or URL, refusing anything that would leave the BMC's origin. */
  resolve(path: string): string {
    const url = new URL(path, this.opts.baseUrl);
    if (url.origin !== this.opts.baseUrl.origin) {
      throw new RedfishError('RB_REDFISH_BAD_RESPONSE', `the BMC pointed to ${url.origin}, outside ${this.opts.baseUrl.origin}; not following it`);
    }
    return `${url.pathname}${url.search}`;
  }

  async request(req: TransportRequest): Promise<RawResponse> {
    const budget = req.retries ?? this.opts.retry.retries;
    const path = this.resolve(req.path);
    let identity = true;
    for (let attempt = 0; ; attempt++) {
      let res: RawResponse;
      const started = Date.now();
      try {
        res = await this.once(req, path, identity);
      } catch (err) {
        const e = this.classify(err, req.method, path);
        const retry = attempt < budget && e.retryable;
        const delay = retry ? this.backoff(attempt) : undefined;
        this.report({ method: req.method, path, durationMs: Date.now() - started, attempt, error: e.error.code, ...(delay === undefined ? {} : { retryInMs: delay }) });
        if (delay !== undefined) {
          this.opts.logger.warn(`redfish ${req.method} ${path}: ${e.error.message}; retry ${attempt + 1}/${budget} in ${delay} ms`);
          await this.opts.sleep(delay);
          continue;
        }
        throw e.error;
      }
      const durationMs = Date.now() - started;
      if (res.status === 406 && identity) {
        this.report({ method: req.method, path, status: res.status, durationMs, attempt, retryInMs: 0 });
        // HPE Gen10 Plus answers 406 to `Accept-Encoding: identity` on some resources; sushy retries without it.
        this.opts.logger.info(`redfish ${req.method} ${path}: 406 with Accept-Encoding identity; retrying without it`);
        identity = false;
        attempt--;
        continue;
      }
      const wait = attempt < budget ? this.retryDelay(req.method, res, attempt) : undefined;
      this.report({ method: req.method, path, status: res.status, durationMs, attempt, ...(wait === undefined ? {} : { retryInMs: wait }) });
      if (wait === undefined) return res;
      this.opts.logger.warn(`redfish ${req.method} ${path}: HTTP ${res.status}; retry ${attempt + 1}/${budget} in ${wait} ms`);
      await this.opts.sleep(wait);
    }
  }

  private report(call: RedfishCall): void {
    try {
      this.opts.onCall?.(call);
    } catch (err) {
      this.opts.logger.error(`redfish: call observer threw: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async once(req: TransportRequest, path: string, identity: boolean): Promise<RawResponse> {
    const headers: RawAxiosRequestHeaders = {
      Accept: 'application/json',
      'OData-Version': '4.0',
      // Compression makes some BMCs hand out weak ETags they later reject (sushy connector).
      ...(identity ? { 'Accept-Encoding': 'identity' } : {}),
      ...req.headers,
    };
    let data: string | undefined;
    if (req.body !== undefined) {
      data = JSON.stringify(req.body);
      headers['Content-Type'] = 'application/json';
    }
    this.opts.logger.debug(`redfish ${req.method} ${path}`);
    const res = await this.http.request<string>({ method: req.method, url: path, headers, data });
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers as Record<string, unknown>)) {
      if (typeof v === 'string') out[k.toLowerCase()] = v;
      else if (Array.isArray(v)) out[k.toLowerCase()] = v.join(', ');
      else if (typeof v === 'number') out[k.toLowerCase()] = String(v);
    }
    return { status: res.status, headers: out, body: parseBody(res.data) };
  }

  private backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.opts.retry;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
    // Equal jitter: at least half the exponential step, plus a random share of the other half.
    return Math.round(ceiling / 2 + this.opts.random() * (ceiling / 2));
  }

  /** How long to wait before retrying this response, or undefined to hand it to the caller. */
  private retryDelay(method: HttpMethod, res: RawResponse, attempt: number): number | undefined {
    const { status } = res;
    if (status === 503 || status === 429) {
      const after = parseRetryAfter(res.headers['retry-after']);
      if (after !== undefined) return Math.min(after, this.opts.retry.maxRetryAfterMs);
      return this.backoff(attempt);
    }
    if (status >= 500 && status !== 501 && status !== 505 && isIdempotent(method)) return this.backoff(attempt);
    if (status === 400 || status === 409) {
      const { messages } = parseErrorBody(res.body);
      if (BUSY_MESSAGE_IDS.some((id) => hasMessageId(messages, id))) return this.backoff(attempt);
    }
    return undefined;
  }

  private classify(err: unknown, method: HttpMethod, path: string): { error: RedfishError; retryable: boolean } {
    const cause = err instanceof AxiosError && err.cause !== undefined ? err.cause : err;
    if (cause instanceof RedfishError) {
      return { error: cause, retryable: cause.code === 'RB_REDFISH_TIMEOUT' && isIdempotent(method) };
    }
    if (err instanceof RedfishError) return { error: err, retryable: false };
    const code = errCode(err) ?? errCode(cause) ?? '';
    const message = err instanceof Error ? err.message : String(err);
    if (TLS_CODES.test(code)) {
      return { error: new RedfishError('RB_REDFISH_TLS', `TLS with the BMC failed on ${method} ${path}: ${code} ${message}`, { method, path, cause: err }), retryable: false };
    }
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(message)) {
      return {
        error: new RedfishError('RB_REDFISH_TIMEOUT', `${method} ${path} timed out after ${this.opts.timeoutMs} ms`, { method, path, cause: err }),
        retryable: isIdempotent(method),
      };
    }
    const retryable = NOT_DELIVERED.has(code) || (MAYBE_DELIVERED.has(code) && isIdempotent(method)) || (code === '' && isIdempotent(method));
    return { error: new RedfishError('RB_REDFISH_CONNECTION', `${method} ${path}: ${code || 'connection failed'} ${message}`.trim(), { method, path, cause: err }), retryable };
  }
}

function errCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const c = (e as { code?: unknown }).code;
  return typeof c === 'string' ? c : undefined;
}

function parseBody(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  const t = data.trim();
  if (t === '') return undefined;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return data;
  }
}
