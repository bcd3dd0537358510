// RedfishClient: one BMC, one TLS policy, one session. It owns authentication (session with HTTP
// Basic fallback, re-login once on 401), the If-Match ladder for PATCH, task monitors for 202
// answers, and logging out on close(). Resource knowledge lives in resources/, vendor knowledge
// in oem/, and multi-step procedures in operations/.

import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { httpError, RedfishError } from './errors.js';
import { isRecord, type JsonObject } from './json.js';
import { silentLogger, type RedfishLogger } from './logger.js';
import { etagOf, strongEtag } from './resources/common.js';
import { DEFAULT_SESSIONS_PATH, parseServiceRoot, SERVICE_ROOT_PATH, type ServiceRoot } from './resources/service-root.js';
import { parseSessionResponse, sessionLoginBody, sessionsUnsupported, type SessionCredentials } from './resources/sessions.js';
import { isTaskBody, parseTask, taskFailedError, taskOutcome, type Task, type TaskResult } from './resources/tasks.js';
import { createTlsAgent, type RedfishTlsOptions, type TlsAgentHandle, type TofuInfo } from './tls.js';
import { Transport, parseRetryAfter, type HttpMethod, type RawResponse, type RedfishCall } from './transport.js';

export type AuthMode = 'auto' | 'session' | 'basic';

export interface RedfishClientOptions {
  /** `https://host[:port]`; any path is ignored (resource paths come from the BMC). */
  baseUrl: string;
  username: string;
  password: string;
  tls: RedfishTlsOptions;
  /** Per request, including the TLS handshake. Default 30 s. */
  timeoutMs?: number;
  /** Extra attempts after the first on connection errors, 5xx and busy answers. Default 3. */
  retries?: number;
  /** First backoff step; doubles per attempt, with jitter. Default 500 ms. */
  retryBaseDelayMs?: number;
  /** Backoff ceiling. Default 30 s. */
  retryMaxDelayMs?: number;
  /** Upper bound for a BMC's Retry-After. Default 120 s. */
  maxRetryAfterMs?: number;
  /** The System to act on; required when the service root lists several. */
  systemId?: string;
  logger?: RedfishLogger;
  /** `auto` (default): session, falling back to Basic when the BMC has no session service. */
  authMode?: AuthMode;
  /** Task monitor polling interval when the BMC sends no Retry-After. Default 1 s (sushy's default). */
  taskPollIntervalMs?: number;
  /** Give up on a task after this long. Default 10 min. */
  taskTimeoutMs?: number;
  /** Replaces the timer used between retries and polls (schedulers, tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Told about every HTTP exchange with the BMC (method, path, status, duration, retry); no bodies. */
  onCall?: (call: RedfishCall) => void;
}

export interface RedfishResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  etag?: string;
}

export interface ResourceResponse {
  path: string;
  body: JsonObject;
  etag?: string;
}

export interface PatchOptions {
  /** The ETag read with the resource; fetched when absent and the BMC insists on If-Match. */
  etag?: string;
  /** Never send the PATCH without an If-Match (428 BMCs); defaults to false. */
  requireIfMatch?: boolean;
  /** Wait for a 202 task to finish (default true). */
  waitForTask?: boolean;
}

export interface PostOptions {
  waitForTask?: boolean;
  /** Retry budget for this POST (actions are not retried after they may have reached the BMC). */
  retries?: number;
}

export interface ActionResult extends RedfishResponse {
  task?: TaskResult;
}

export interface SettingsPatchResult {
  /** `settings`: staged in the resource's SettingsObject; `resource`: applied to the resource itself. */
  via: 'settings' | 'resource';
  path: string;
  result: ActionResult;
}

interface ClientEvents {
  tofu: [TofuInfo];
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RedfishClient extends EventEmitter<ClientEvents> {
  readonly baseUrl: URL;
  readonly systemId: string | undefined;
  readonly logger: RedfishLogger;
  readonly sleep: (ms: number) => Promise<void>;

  private readonly username: string;
  private readonly password: string;
  private readonly authModeOption: AuthMode;
  private readonly tlsHandle: TlsAgentHandle;
  private readonly transport: Transport;
  private readonly taskPollIntervalMs: number;
  private readonly taskTimeoutMs: number;

  private root: ServiceRoot | undefined;
  private auth: { kind: 'none' } | { kind: 'basic' } | ({ kind: 'session' } & SessionCredentials) = { kind: 'none' };
  private authGeneration = 0;
  private login: Promise<void> | undefined;
  private closed = false;

  constructor(opts: RedfishClientOptions) {
    super();
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', `baseUrl is not a URL: ${opts.baseUrl}`);
    }
    if (url.protocol !== 'https:') {
      throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', `baseUrl must be https (got ${url.protocol}); the client never talks to a BMC in clear text`);
    }
    if (typeof opts.username !== 'string' || opts.username === '') throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', 'username is required');
    if (typeof opts.password !== 'string') throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', 'password is required');
    this.baseUrl = new URL(url.origin);
    this.systemId = opts.systemId;
    this.logger = opts.logger ?? silentLogger;
    this.sleep = opts.sleep ?? defaultSleep;
    this.username = opts.username;
    this.password = opts.password;
    this.authModeOption = opts.authMode ?? 'auto';
    this.taskPollIntervalMs = opts.taskPollIntervalMs ?? 1000;
    this.taskTimeoutMs = opts.taskTimeoutMs ?? 10 * 60_000;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    this.tlsHandle = createTlsAgent(opts.tls ?? {}, (info) => this.reportTofu(opts.tls?.onTofu, info), timeoutMs);
    this.transport = new Transport({
      baseUrl: this.baseUrl,
      agent: this.tlsHandle.agent,
      timeoutMs,
      retry: {
        retries: opts.retries ?? 3,
        baseDelayMs: opts.retryBaseDelayMs ?? 500,
        maxDelayMs: opts.retryMaxDelayMs ?? 30_000,
        maxRetryAfterMs: opts.maxRetryAfterMs ?? 120_000,
      },
      logger: this.logger,
      sleep: this.sleep,
      random: () => randomInt(0, 1_000_000) / 1_000_000,
      ...(opts.onCall === undefined ? {} : { onCall: opts.onCall }),
    });
  }

  /** `session`, `basic`, or `none` before the first authenticated request. */
  get authKind(): 'none' | 'basic' | 'session' {
    return this.auth.kind;
  }

  /** The certificate fingerprint in force: the configured pin or the one learnt on first use. */
  get pinnedFingerprint(): string | undefined {
    return this.tlsHandle.pinned();
  }

  private reportTofu(cb: ((info: TofuInfo) => void) | undefined, info: TofuInfo): void {
    this.logger.warn(`redfish: trusting ${info.host} on first use, certificate SHA-256 ${info.fingerprintSha256}`);
    try {
      cb?.(info);
      this.emit('tofu', info);
    } catch (err) {
      this.logger.error(`redfish: TOFU listener threw: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new RedfishError('RB_REDFISH_CLOSED', 'the Redfish client is closed');
  }

  // ---------------------------------------------------------------------------------------------
  // Service root and authentication

  /** The ServiceRoot, read once without credentials (with Basic if the BMC insists). */
  async serviceRoot(): Promise<ServiceRoot> {
    this.assertOpen();
    if (this.root !== undefined) return this.root;
    let res = await this.transport.request({ method: 'GET', path: SERVICE_ROOT_PATH });
    if (res.status === 401) res = await this.transport.request({ method: 'GET', path: SERVICE_ROOT_PATH, headers: this.basicHeader() });
    if (res.status >= 400) throw httpError(res.status, 'GET', SERVICE_ROOT_PATH, res.body, 'reading the Redfish service root');
    if (!isRecord(res.body)) throw new RedfishError('RB_REDFISH_BAD_RESPONSE', 'the service root is not a JSON object', { status: res.status, path: SERVICE_ROOT_PATH });
    this.root = parseServiceRoot(res.body);
    return this.root;
  }

  private basicHeader(): Record<string, string> {
    return { Authorization: `Basic ${Buffer.from(`${this.username}:${this.password}`, 'utf8').toString('base64')}` };
  }

  private authHeaders(): Record<string, string> {
    if (this.auth.kind === 'session') return { 'X-Auth-Token': this.auth.token };
    if (this.auth.kind === 'basic') return this.basicHeader();
    return {};
  }

  private async ensureAuth(): Promise<void> {
    if (this.auth.kind !== 'none') return;
    this.login ??= this.doLogin().finally(() => {
      this.login = undefined;
    });
    await this.login;
  }

  private async doLogin(): Promise<void> {
    const root = await this.serviceRoot();
    if (this.authModeOption === 'basic') {
      this.setAuth({ kind: 'basic' });
      return;
    }
    const sessionsPath = root.sessions ?? DEFAULT_SESSIONS_PATH;
    // Not retried once it may have reached the BMC: a duplicate login would leak a session slot.
    const res = await this.transport.request({ method: 'POST', path: sessionsPath, body: sessionLoginBody(this.username, this.password) });
    if (res.status >= 200 && res.status < 300) {
      const creds = parseSessionResponse(res);
      if (creds !== undefined) {
        if (creds.location === undefined) this.logger.warn(`redfish: session created without a Location; it cannot be deleted on close`);
        this.setAuth({ kind: 'session', ...creds });
        this.logger.debug(`redfish: session created${creds.location === undefined ? '' : ` at ${creds.location}`}`);
        return;
      }
      if (this.authModeOption === 'session') throw new RedfishError('RB_REDFISH_AUTH', `session login at ${sessionsPath} returned no X-Auth-Token`, { status: res.status, path: sessionsPath });
      this.logger.warn(`redfish: session login at ${sessionsPath} returned no X-Auth-Token; using HTTP Basic`);
      this.setAuth({ kind: 'basic' });
      return;
    }
    if (sessionsUnsupported(res.status)) {
      if (this.authModeOption === 'session') throw httpError(res.status, 'POST', sessionsPath, res.body, 'session login');
      this.logger.info(`redfish: no session service (HTTP ${res.status} on ${sessionsPath}); using HTTP Basic`);
      this.setAuth({ kind: 'basic' });
      return;
    }
    if ((res.status === 401 || res.status === 403) && this.authModeOption === 'auto') {
      // Some boards refuse sessions but take Basic (Supermicro without the DCMS licence, gofish#102).
      const probePath = root.systems ?? '/redfish/v1/Systems';
      const probe = await this.transport.request({ method: 'GET', path: probePath, headers: this.basicHeader() });
      if (probe.status >= 200 && probe.status < 300) {
        this.logger.warn(`redfish: session login refused (HTTP ${res.status}) but HTTP Basic works; using Basic`);
        this.setAuth({ kind: 'basic' });
        return;
      }
    }
    throw httpError(res.status, 'POST', sessionsPath, res.body, 'session login');
  }

  private setAuth(a: RedfishClient['auth']): void {
    this.auth = a;
    this.authGeneration++;
  }

  /** Drops a rejected session and logs in again, once per generation of credentials. */
  private async reauthenticate(generation: number): Promise<void> {
    if (this.authGeneration === generation && this.auth.kind === 'session') {
      this.logger.info('redfish: session rejected (401), logging in again');
      this.setAuth({ kind: 'none' });
    }
    await this.ensureAuth();
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  /**
   * One authenticated request. Returns any status (callers decide); only a 401 that survives one
   * re-login becomes an RB_REDFISH_AUTH error.
   */
  async raw(method: HttpMethod, path: string, body?: unknown, headers?: Record<string, string>, retries?: number): Promise<RawResponse> {
    this.assertOpen();
    await this.ensureAuth();
    const send = () =>
      this.transport.request({ method, path, ...(body === undefined ? {} : { body }), headers: { ...this.authHeaders(), ...headers }, ...(retries === undefined ? {} : { retries }) });
    const generation = this.authGeneration;
    let res = await send();
    if (res.status === 401 && this.auth.kind === 'session') {
      await this.reauthenticate(generation);
      res = await send();
    }
    if (res.status === 401) throw httpError(401, method, path, res.body);
    return res;
  }

  /** GET; throws RedfishError on HTTP errors. */
  async get(path: string): Promise<RedfishResponse> {
    const res = await this.raw('GET', path);
    if (res.status >= 400) throw httpError(res.status, 'GET', path, res.body);
    const etag = etagOf(res.headers, res.body);
    return { ...res, ...(etag === undefined ? {} : { etag }) };
  }

  /** GET of a resource that must be a JSON object. */
  async getResource(path: string): Promise<ResourceResponse> {
    const res = await this.get(path);
    if (!isRecord(res.body)) throw new RedfishError('RB_REDFISH_BAD_RESPONSE', `GET ${path} did not return a JSON object`, { status: res.status, path });
    return { path, body: res.body, ...(res.etag === undefined ? {} : { etag: res.etag }) };
  }

  /** POST (actions, collections). Follows a 202 task monitor unless `waitForTask: false`. */
  async post(path: string, body: unknown, opts: PostOptions = {}): Promise<ActionResult> {
    // Never with If-Match: iDRAC10 answers 412 to If-Match on actions (gofish PR #510).
    const res = await this.raw('POST', path, body, undefined, opts.retries);
    return this.finish('POST', path, res, opts.waitForTask ?? true);
  }

  async delete(path: string): Promise<RedfishResponse> {
    const res = await this.raw('DELETE', path);
    if (res.status >= 400) throw httpError(res.status, 'DELETE', path, res.body);
    return res;
  }

  /**
   * PATCH with the If-Match ladder. First the ETag given (or, when the BMC insists on one, a fresh
   * one); on 412/428: a freshly read ETag, its strong form (sushy's weak→strong step), `*` (any
   * representation; bmcweb accepts it), and finally no If-Match at all unless `requireIfMatch`.
   * If-None-Match is never sent. Bounded: at most five PATCHes.
   */
  async patch(path: string, body: unknown, opts: PatchOptions = {}): Promise<ActionResult> {
    const required = opts.requireIfMatch ?? false;
    let first = opts.etag;
    if (first === undefined && required) first = (await this.get(path)).etag ?? '*';
    const tried = new Set<string>();
    const key = (e: string | undefined) => e ?? '<none>';
    const attempt = async (etag: string | undefined) => {
      tried.add(key(etag));
      return this.raw('PATCH', path, body, etag === undefined ? undefined : { 'If-Match': etag });
    };
    let res = await attempt(first);
    let fresh: string | undefined;
    let refreshed = false;
    while (res.status === 412 || res.status === 428) {
      if (!refreshed) {
        refreshed = true;
        fresh = (await this.get(path)).etag;
        this.logger.info(`redfish: PATCH ${path} got ${res.status}; retrying with ${fresh === undefined ? 'no ETag from the BMC' : `fresh ETag ${fresh}`}`);
      }
      const ladder: (string | undefined)[] = [];
      if (fresh !== undefined) ladder.push(fresh, strongEtag(fresh));
      if (first !== undefined) ladder.push(strongEtag(first));
      ladder.push('*');
      if (!required) ladder.push(undefined);
      const idx = ladder.findIndex((e) => !tried.has(key(e)));
      if (idx < 0) {
        throw new RedfishError('RB_REDFISH_PRECONDITION', `PATCH ${path} kept failing its precondition (HTTP ${res.status}) after trying If-Match ${[...tried].join(', ')}`, {
          status: res.status,
          method: 'PATCH',
          path,
          messages: httpError(res.status, 'PATCH', path, res.body).messages,
        });
      }
      const next = ladder[idx];
      res = await attempt(next);
    }
    return this.finish('PATCH', path, res, opts.waitForTask ?? true);
  }

  /**
   * Changes a resource that may stage its changes: when it declares `@Redfish.Settings`, the PATCH
   * goes to its SettingsObject (with that object's ETag) and takes effect at the apply time (usually
   * the next reset); otherwise the resource itself is PATCHed. `applyTime` adds
   * `@Redfish.SettingsApplyTime` when the resource lists it in SupportedApplyTimes.
   */
  async patchSettings(path: string, body: JsonObject, opts: { applyTime?: string; requireIfMatch?: boolean } = {}): Promise<SettingsPatchResult> {
    const res = await this.getResource(path);
    const settings = res.body['@Redfish.Settings'];
    const target = isRecord(settings) && isRecord(settings['SettingsObject']) ? settings['SettingsObject']['@odata.id'] : undefined;
    if (typeof target !== 'string' || target === '') {
      const result = await this.patch(path, body, { ...(res.etag === undefined ? {} : { etag: res.etag }), requireIfMatch: opts.requireIfMatch ?? false });
      return { via: 'resource', path, result };
    }
    const supported = isRecord(settings) && Array.isArray(settings['SupportedApplyTimes']) ? settings['SupportedApplyTimes'] : [];
    let payload = body;
    if (opts.applyTime !== undefined) {
      if (!supported.includes(opts.applyTime)) {
        throw new RedfishError('RB_REDFISH_UNSUPPORTED', `${path} does not support apply time ${opts.applyTime} (supported: ${supported.join(', ') || 'none listed'})`);
      }
      payload = { ...body, '@Redfish.SettingsApplyTime': { ApplyTime: opts.applyTime } };
    }
    const pending = await this.get(target);
    const result = await this.patch(target, payload, { ...(pending.etag === undefined ? {} : { etag: pending.etag }), requireIfMatch: opts.requireIfMatch ?? false });
    return { via: 'settings', path: target, result };
  }

  private async finish(method: HttpMethod, path: string, res: RawResponse, waitForTask: boolean): Promise<ActionResult> {
    if (res.status >= 400) throw httpError(res.status, method, path, res.body);
    const etag = etagOf(res.headers, res.body);
    const out: ActionResult = { ...res, ...(etag === undefined ? {} : { etag }) };
    if (res.status === 202 && waitForTask) out.task = await this.waitForTask(res, `${method} ${path}`);
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Tasks

  /**
   * Follows a 202 answer to the end: polls the task monitor (Location, else the Task's
   * TaskMonitor, else the Task itself) honouring Retry-After, until it stops answering 202 and is
   * not a running Task. Fails with RB_REDFISH_TASK_FAILED (carrying the task's Messages) or
   * RB_REDFISH_TIMEOUT.
   */
  async waitForTask(accepted: RawResponse, what = 'operation'): Promise<TaskResult> {
    const first = isTaskBody(accepted.body) ? parseTask(accepted.body) : undefined;
    const monitor = accepted.headers['location'] ?? first?.taskMonitor ?? first?.path;
    if (monitor === undefined) {
      throw new RedfishError('RB_REDFISH_BAD_RESPONSE', `${what} was accepted (202) without a Location or Task to follow`, { status: 202 });
    }
    const deadline = Date.now() + this.taskTimeoutMs;
    let last: Task | undefined = first;
    let wait = parseRetryAfter(accepted.headers['retry-after']) ?? this.taskPollIntervalMs;
    let notFound = 0;
    for (let polls = 1; ; polls++) {
      if (Date.now() + wait > deadline) {
        throw new RedfishError('RB_REDFISH_TIMEOUT', `${what}: task ${last?.id ?? monitor} not finished after ${this.taskTimeoutMs} ms (state ${last?.state ?? 'unknown'})`, {
          path: monitor,
          messages: last?.messages ?? [],
        });
      }
      await this.sleep(wait);
      const res = await this.raw('GET', monitor);
      wait = parseRetryAfter(res.headers['retry-after']) ?? this.taskPollIntervalMs;
      const task = isTaskBody(res.body) ? parseTask(res.body) : undefined;
      if (task !== undefined) {
        last = task;
        this.logger.debug(`redfish: task ${task.id ?? monitor} ${task.state ?? '?'} ${task.percentComplete ?? ''}`.trim());
        for (const m of task.messages) if (m.message !== undefined) this.logger.info(`redfish: task ${task.id ?? monitor}: ${m.message}`);
      }
      if (res.status === 404 && notFound < 3) {
        // iDRAC can answer 404 for a job it just created (sushy release note fix-dell-bmc-404-race-condition).
        notFound++;
        continue;
      }
      if (res.status === 202) continue;
      if (res.status >= 400) {
        const err = httpError(res.status, 'GET', monitor, res.body, `${what}: task monitor`);
        throw new RedfishError('RB_REDFISH_TASK_FAILED', err.message, { status: res.status, path: monitor, messages: err.messages });
      }
      if (task !== undefined) {
        const outcome = taskOutcome(task);
        if (outcome === 'running') continue;
        if (outcome === 'failed') throw taskFailedError(monitor, task);
      }
      return { monitor, ...(last === undefined ? {} : { task: last }), status: res.status, body: res.body, messages: last?.messages ?? [], polls };
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** Logs out (DELETE of the session) and releases the TLS agent. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.login !== undefined) await this.login.catch(() => undefined);
    this.closed = true;
    const a = this.auth;
    this.auth = { kind: 'none' };
    try {
      if (a.kind === 'session' && a.location !== undefined) {
        const res = await this.transport.request({ method: 'DELETE', path: a.location, headers: { 'X-Auth-Token': a.token }, retries: 1 });
        if (res.status >= 400 && res.status !== 401 && res.status !== 404) {
          this.logger.warn(`redfish: logging out (DELETE ${a.location}) answered HTTP ${res.status}`);
        } else {
          this.logger.debug(`redfish: session ${a.location} deleted`);
        }
      }
    } catch (err) {
      this.logger.warn(`redfish: logging out failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.tlsHandle.agent.destroy();
    }
  }
}
