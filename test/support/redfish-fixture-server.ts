// A small HTTPS Redfish service for the client tests. It serves one vendor's fixture tree
// (test/fixtures/redfish/<vendor>/, DMTF mockup layout: <path under /redfish/v1>/index.json) and
// reproduces the behaviours the client must cope with: sessions or Basic-only, ETags with 412/428,
// 202 + task monitors, 503 + Retry-After, boot PATCHes that are reverted, InsertMedia parameter
// quirks, the HPE OEM insert, the Dell SCP job, and session expiry.
//
// It is not a full emulator (the QEMU-backed virtual BMC is a later task): state is the fixture
// JSON, mutated by PATCH and actions; no schema validation beyond what the tests need.

import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'redfish');

type Json = Record<string, unknown>;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  status: number;
}

export interface Fault {
  method?: string;
  /** Exact path (trailing slash ignored) or a pattern. */
  path: string | RegExp;
  /** HTTP status to answer, or 'reset' to destroy the socket. */
  status: number | 'reset';
  headers?: Record<string, string>;
  body?: unknown;
  /** How many matching requests get the fault (default 1). */
  times?: number;
}

export interface InsertQuirks {
  /** 400 when Inserted/WriteProtected are sent (Supermicro X11/X12). */
  rejectFlags?: boolean;
  /** 400 ActionParameterUnknown when TransferProtocolType is sent. */
  rejectTransferProtocolType?: boolean;
  /** 400 (sushy's transfer_proto_required_error) when TransferProtocolType is missing (AMI, Nokia). */
  requireTransferProtocolType?: boolean;
  /** 400 (sushy's transfer_method_required_error) when TransferMethod is missing. */
  requireTransferMethod?: boolean;
  /** Answer 204 and mount nothing (Dell R670, dell/terraform-provider-redfish#331). */
  noop?: boolean;
  /** URL schemes the BMC mounts (OpenBMC legacy: https, smb). */
  schemes?: string[];
  /** 400 while the slot still holds an Image (Supermicro stale image). */
  refuseWhileImageSet?: boolean;
}

export interface FixtureServerOptions {
  /** Directory name under test/fixtures/redfish. */
  fixture: string;
  tls: { certPem: string; keyPem: string };
  username?: string;
  password?: string;
  /** standard: sessions; absent: 404 on the collection; not-allowed: 405; no-location: token without Location. */
  sessions?: 'standard' | 'absent' | 'not-allowed' | 'no-location';
  /** Status of a successful login (201; the DMTF Mockup Server answers 204). */
  sessionStatus?: 201 | 204;
  /** Accept HTTP Basic on resources (default true). */
  basicAuth?: boolean;
  /** ETag style: strong `"h"`, weak `W/"h"`, bare `h` (Lenovo), none. Default strong. */
  etags?: 'strong' | 'weak' | 'bare' | 'none';
  /** Send the ETag header (default true); false = only `@odata.etag` in bodies. */
  etagHeader?: boolean;
  /** 428 on PATCH without If-Match. */
  requireIfMatch?: boolean;
  /** 412 on an action POST that carries If-Match (iDRAC10). */
  rejectIfMatchOnActions?: boolean;
  /** wants-strong: hands out W/"h" but only accepts "h"; star-only: only `*` passes; nothing: every If-Match fails. */
  etagBug?: 'wants-strong' | 'star-only' | 'nothing';
  /** After a Boot PATCH answers 200, revert Mode to Legacy and Enabled to Disabled (Supermicro AS-1015CS-TNR). */
  bootRevert?: boolean;
  /** Report every override as Continuous whatever is sent (sushy-tools, research note §6.1). */
  forceContinuous?: boolean;
  /** Boot PATCH on the System answers 400 OperationSupportedInFutureStateURI (AMI; write the SD object). */
  bootOnlyViaSettings?: boolean;
  /** 400 for a Boot PATCH that contains BootSourceOverrideMode (HP DL160 Gen10). */
  rejectBootMode?: boolean;
  insert?: InsertQuirks;
  /** Eject actions answer 415 without a JSON body (iLO). */
  ejectNeedsBody?: boolean;
  /** 409 to Reset On while already On. */
  conflictOnRedundantPower?: boolean;
  /** Reset answers 202 with a task monitor that finishes after this many polls. */
  resetTaskPolls?: number;
  /** Polls before the Dell SCP job completes (default 2). */
  dellJobPolls?: number;
  /** Delay before each answer, so concurrent clients overlap measurably. */
  latencyMs?: number;
  /** Requests being answered right now and the most seen at once; may be shared by several servers. */
  gauge?: InFlightGauge;
}

export interface InFlightGauge {
  current: number;
  max: number;
}

interface TaskState {
  id: string;
  monitor: string;
  taskPath: string;
  pollsLeft: number;
  outcome: 'Completed' | 'Exception';
  messages: Json[];
  finalStatus: number;
  finalBody?: unknown;
}

function norm(p: string): string {
  let s = decodeURIComponent(p.split('?')[0] ?? '');
  if (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

function loadTree(dir: string): { resources: Map<string, Json>; errors: Map<string, Json> } {
  const resources = new Map<string, Json>();
  const errors = new Map<string, Json>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (name === '_errors') {
          for (const e of readdirSync(p)) errors.set(e.replace(/\.json$/, ''), JSON.parse(readFileSync(join(p, e), 'utf8')) as Json);
        } else walk(p);
      } else if (name === 'index.json') {
        const rel = relative(dir, d).split(sep).join('/');
        resources.set(norm(rel === '' ? '/redfish/v1' : `/redfish/v1/${rel}`), JSON.parse(readFileSync(p, 'utf8')) as Json);
      }
    }
  };
  walk(dir);
  return { resources, errors };
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(target: Json, patch: Json): void {
  for (const [k, v] of Object.entries(patch)) {
    if (isObj(v) && isObj(target[k])) merge(target[k] as Json, v);
    else target[k] = v;
  }
}

/** A Redfish error body with one Base message. */
export function redfishError(messageId: string, message: string, extra: Json = {}): Json {
  return {
    error: {
      code: messageId,
      message,
      '@Message.ExtendedInfo': [{ '@odata.type': '#Message.v1_1_1.Message', MessageId: messageId, Message: message, Severity: 'Critical', MessageArgs: [], ...extra }],
    },
  };
}

export class RedfishFixtureServer {
  readonly requests: RecordedRequest[] = [];
  /** token → session path */
  readonly sessions = new Map<string, string>();
  sessionsCreated = 0;
  sessionsDeleted = 0;
  /** What the Dell SCP job set (ServerBoot.1#FirstBootDevice), when it ran. */
  dellFirstBootDevice: string | undefined;

  private readonly resources: Map<string, Json>;
  private readonly errors: Map<string, Json>;
  private readonly actions = new Map<string, { resource: string; name: string }>();
  private readonly faults: (Fault & { left: number })[] = [];
  private readonly tasks = new Map<string, TaskState>();
  private readonly sockets = new Set<Socket>();
  private server!: https.Server;
  private nextId = 1;
  port = 0;

  private constructor(readonly opts: FixtureServerOptions) {
    const tree = loadTree(join(FIXTURE_ROOT, opts.fixture));
    this.resources = tree.resources;
    this.errors = tree.errors;
    for (const [path, body] of this.resources) this.indexActions(path, body);
  }

  static async start(opts: FixtureServerOptions): Promise<RedfishFixtureServer> {
    const s = new RedfishFixtureServer(opts);
    s.server = https.createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, (req, res) => void s.handle(req, res));
    s.server.on('connection', (sock: Socket) => {
      s.sockets.add(sock);
      sock.on('close', () => s.sockets.delete(sock));
    });
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------------------------------------
  // Test controls

  resource(path: string): Json {
    const r = this.resources.get(norm(path));
    if (r === undefined) throw new Error(`fixture has no ${path}`);
    return r;
  }

  /** Changes a resource behind the client's back (its ETag changes). */
  mutate(path: string, patch: Json): void {
    merge(this.resource(path), patch);
  }

  /** Adds (or replaces) a resource, e.g. a second System in a collection. */
  addResource(path: string, body: Json): void {
    this.resources.set(norm(path), body);
    this.indexActions(norm(path), body);
  }

  etagOf(path: string): string | undefined {
    return this.etag(this.resource(path));
  }

  fail(f: Fault): void {
    this.faults.push({ ...f, left: f.times ?? 1 });
  }

  /** Forgets every session token: the next request with one gets 401 (session timeout). */
  expireSessions(): void {
    this.sessions.clear();
  }

  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof path === 'string' ? norm(r.path) === norm(path) : path.test(r.path)));
  }

  /** Starts a task and returns its monitor path (for client tests that POST to a custom route). */
  createTask(polls: number, outcome: 'Completed' | 'Exception', messages: Json[] = [], finalBody?: unknown): string {
    const id = String(this.nextId++);
    const monitor = `/redfish/v1/TaskService/TaskMonitors/${id}`;
    this.tasks.set(norm(monitor), { id, monitor, taskPath: `/redfish/v1/TaskService/Tasks/${id}`, pollsLeft: polls, outcome, messages, finalStatus: 200, finalBody });
    return monitor;
  }

  // ------------------------------------------------------------------------------------------

  private indexActions(path: string, body: Json): void {
    const scan = (actions: unknown) => {
      if (!isObj(actions)) return;
      for (const [k, v] of Object.entries(actions)) {
        if (k === 'Oem') scan(v);
        else if (isObj(v) && typeof v['target'] === 'string') this.actions.set(norm(v['target']), { resource: path, name: k.slice(k.lastIndexOf('#') + 1) });
      }
    };
    scan(body['Actions']);
    const hpe = isObj(body['Oem']) ? (body['Oem'] as Json)['Hpe'] : undefined;
    if (isObj(hpe)) scan(hpe['Actions']);
  }

  private etag(body: Json): string | undefined {
    const mode = this.opts.etags ?? 'strong';
    if (mode === 'none') return undefined;
    const { ['@odata.etag']: _skip, ...rest } = body;
    const h = createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
    if (mode === 'bare') return h;
    if (mode === 'weak' || this.opts.etagBug === 'wants-strong') return `W/"${h}"`;
    return `"${h}"`;
  }

  private ifMatchOk(header: string, body: Json): boolean {
    const bug = this.opts.etagBug;
    if (header === '*') return bug !== 'nothing';
    if (bug === 'star-only' || bug === 'nothing') return false;
    const current = this.etag(body);
    if (current === undefined) return true;
    if (bug === 'wants-strong') return header === current.slice(2);
    return header === current;
  }

  private send(res: ServerResponse, rec: RecordedRequest, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    rec.status = status;
    this.requests.push(rec);
    const payload = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'OData-Version': '4.0', ...(payload === '' ? {} : { 'Content-Type': 'application/json;charset=utf-8' }), ...headers });
    res.end(payload);
  }

  private sendResource(res: ServerResponse, rec: RecordedRequest, body: Json, status = 200): void {
    const etag = this.etag(body);
    const out = etag !== undefined && (this.opts.etags ?? 'strong') !== 'none' ? { ...body, '@odata.etag': etag } : body;
    const headers: Record<string, string> = {};
    if (etag !== undefined && this.opts.etagHeader !== false) headers['ETag'] = etag;
    this.send(res, rec, status, out, headers);
  }

  private notFound(res: ServerResponse, rec: RecordedRequest): void {
    this.send(res, rec, 404, this.errors.get('404') ?? redfishError('Base.1.8.ResourceMissingAtURI', `The resource at the URI ${rec.path} was not found.`));
  }

  private sessionsPath(): string {
    const root = this.resources.get('/redfish/v1');
    const links = root !== undefined && isObj(root['Links']) ? (root['Links'] as Json)['Sessions'] : undefined;
    return norm(isObj(links) && typeof links['@odata.id'] === 'string' ? links['@odata.id'] : '/redfish/v1/SessionService/Sessions');
  }

  private authorized(req: IncomingMessage): boolean {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && this.sessions.has(token)) return true;
    const auth = req.headers.authorization;
    if (this.opts.basicAuth !== false && typeof auth === 'string' && auth.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      return u === (this.opts.username ?? 'admin') && p === (this.opts.password ?? 'secret');
    }
    return false;
  }

  /** Requests in progress on this server, and the most at once. */
  readonly inFlight: InFlightGauge = { current: 0, max: 0 };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const gauges = this.opts.gauge === undefined ? [this.inFlight] : [this.inFlight, this.opts.gauge];
    for (const g of gauges) g.max = Math.max(g.max, ++g.current);
    try {
      if (this.opts.latencyMs !== undefined) await new Promise((r) => setTimeout(r, this.opts.latencyMs));
      await this.answer(req, res);
    } finally {
      for (const g of gauges) g.current--;
    }
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    let badJson = false;
    if (raw !== '') {
      try {
        body = JSON.parse(raw) as unknown;
      } catch {
        badJson = true;
      }
    }
    const method = req.method ?? 'GET';
    const path = norm(req.url ?? '/');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const rec: RecordedRequest = { method, path: req.url ?? '/', headers, body, status: 0 };

    const fault = this.faults.find((f) => f.left > 0 && (f.method === undefined || f.method === method) && (typeof f.path === 'string' ? norm(f.path) === path : f.path.test(path)));
    if (fault !== undefined) {
      fault.left--;
      if (fault.status === 'reset') {
        rec.status = -1;
        this.requests.push(rec);
        req.socket.destroy();
        return;
      }
      this.send(res, rec, fault.status, fault.body, fault.headers);
      return;
    }
    if (badJson) return this.send(res, rec, 400, redfishError('Base.1.8.MalformedJSON', 'The request body submitted was malformed JSON.'));

    const open = method === 'GET' && (path === '/redfish' || path === '/redfish/v1');
    const sessionsPath = this.sessionsPath();
    const mode = this.opts.sessions ?? 'standard';
    if (method === 'POST' && path === sessionsPath && (mode === 'standard' || mode === 'no-location')) return this.login(res, rec, body);
    if (method === 'POST' && path === sessionsPath && mode === 'absent') return this.notFound(res, rec);
    if (!open && !this.authorized(req)) {
      const hasToken = typeof req.headers['x-auth-token'] === 'string';
      return this.send(res, rec, 401, this.errors.get(hasToken ? '401-session' : '401') ?? redfishError('Base.1.8.NoValidSession', 'There is no valid session established with the implementation.'), {
        'WWW-Authenticate': 'Basic realm="Authentication Required"',
      });
    }
    if (method === 'POST' && path === sessionsPath) {
      return this.send(res, rec, 405, redfishError('Base.1.8.OperationNotAllowed', 'The HTTP method is not allowed on this URI.'));
    }
    if (method === 'DELETE' && path.startsWith(`${sessionsPath}/`)) {
      for (const [t, p] of this.sessions) {
        if (p === path) {
          this.sessions.delete(t);
          this.sessionsDeleted++;
          return this.send(res, rec, 204);
        }
      }
      return this.notFound(res, rec);
    }

    const task = this.tasks.get(path) ?? [...this.tasks.values()].find((t) => norm(t.taskPath) === path);
    if (task !== undefined && method === 'GET') return this.pollTask(res, rec, task);

    if (method === 'GET') {
      const r = this.resources.get(path);
      return r === undefined ? this.notFound(res, rec) : this.sendResource(res, rec, r);
    }
    if (method === 'PATCH') return this.patch(res, rec, req, path, body);
    if (method === 'POST') {
      if (this.opts.rejectIfMatchOnActions && req.headers['if-match'] !== undefined) {
        return this.send(res, rec, 412, redfishError('Base.1.8.PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'));
      }
      const action = this.actions.get(path);
      if (action === undefined) return this.notFound(res, rec);
      return this.action(res, rec, action.resource, action.name, body, raw);
    }
    return this.send(res, rec, 405, redfishError('Base.1.8.OperationNotAllowed', 'The HTTP method is not allowed on this URI.'));
  }

  private login(res: ServerResponse, rec: RecordedRequest, body: unknown): void {
    if (!isObj(body) || body['UserName'] !== (this.opts.username ?? 'admin') || body['Password'] !== (this.opts.password ?? 'secret')) {
      return this.send(res, rec, 401, redfishError('Base.1.8.NoValidSession', 'There is no valid session established with the implementation.'));
    }
    const token = randomBytes(16).toString('hex');
    const id = randomBytes(8).toString('hex');
    const location = `${this.sessionsPath()}/${id}`;
    this.sessions.set(token, location);
    this.sessionsCreated++;
    const headers: Record<string, string> = { 'X-Auth-Token': token };
    if ((this.opts.sessions ?? 'standard') !== 'no-location') headers['Location'] = location;
    const session = { '@odata.type': '#Session.v1_1_0.Session', '@odata.id': location, Id: id, Name: 'User Session', UserName: body['UserName'] };
    const status = this.opts.sessionStatus ?? 201;
    this.send(res, rec, status, status === 204 ? undefined : (this.opts.sessions ?? 'standard') === 'no-location' ? { ...session, '@odata.id': undefined } : session, headers);
  }

  private pollTask(res: ServerResponse, rec: RecordedRequest, t: TaskState): void {
    const task = (state: string, status: string): Json => ({
      '@odata.type': '#Task.v1_4_3.Task',
      '@odata.id': t.taskPath,
      Id: t.id,
      Name: `Task ${t.id}`,
      TaskMonitor: t.monitor,
      TaskState: state,
      TaskStatus: status,
      PercentComplete: state === 'Running' ? 50 : 100,
      Messages: t.messages,
    });
    if (t.pollsLeft > 0) {
      t.pollsLeft--;
      return this.send(res, rec, 202, task('Running', 'OK'), { Location: t.monitor, 'Retry-After': '1' });
    }
    if (t.outcome === 'Exception') return this.send(res, rec, 200, task('Exception', 'Critical'));
    return this.send(res, rec, t.finalStatus, t.finalBody ?? task('Completed', 'OK'));
  }

  private patch(res: ServerResponse, rec: RecordedRequest, req: IncomingMessage, path: string, body: unknown): void {
    const r = this.resources.get(path);
    if (r === undefined) return this.notFound(res, rec);
    if (!isObj(body)) return this.send(res, rec, 400, redfishError('Base.1.8.MalformedJSON', 'The request body submitted was malformed JSON.'));
    const isMedia = String(r['@odata.type'] ?? '').includes('VirtualMedia');
    if (isMedia && isObj(r['Actions']) && 'Image' in body && (r['Actions'] as Json)['#VirtualMedia.InsertMedia'] !== undefined) {
      return this.send(res, rec, 405, redfishError('Base.1.8.PropertyNotWritable', 'The property Image is a read only property and cannot be assigned a value.'));
    }
    const ifMatch = req.headers['if-match'];
    if (ifMatch === undefined) {
      if (this.opts.requireIfMatch) {
        return this.send(res, rec, 428, redfishError('Base.1.8.PreconditionRequired', 'A precondition header or annotation is required to change this resource.'));
      }
    } else if (!this.ifMatchOk(ifMatch, r)) {
      return this.send(res, rec, 412, redfishError('Base.1.8.PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'));
    }
    const boot = body['Boot'];
    if (isObj(boot)) {
      const isSystem = String(r['@odata.type'] ?? '').includes('ComputerSystem') && !/\/(SD|Pending|Settings)$/.test(path);
      if (this.opts.bootOnlyViaSettings && isSystem) {
        return this.send(res, rec, 400, redfishError('Ami.1.0.OperationSupportedInFutureStateURI', 'The operation is supported only through the future state URI.'));
      }
      if (this.opts.rejectBootMode && 'BootSourceOverrideMode' in boot) {
        return this.send(res, rec, 400, redfishError('Base.1.8.PropertyNotWritable', 'The property BootSourceOverrideMode is a read only property and cannot be assigned a value.'));
      }
      const current = isObj(r['Boot']) ? (r['Boot'] as Json) : {};
      const allowed = current['BootSourceOverrideTarget@Redfish.AllowableValues'];
      const t = boot['BootSourceOverrideTarget'];
      if (Array.isArray(allowed) && t !== undefined && !allowed.includes(t)) {
        return this.send(res, rec, 400, redfishError('Base.1.8.PropertyValueNotInList', `The value ${String(t)} for the property BootSourceOverrideTarget is not in the list of acceptable values.`));
      }
    }
    merge(r, body);
    if (isObj(boot) && this.opts.bootRevert) {
      // 200 first, then the board puts its own values back (bmclib PR #459).
      merge(r, { Boot: { BootSourceOverrideMode: 'Legacy', BootSourceOverrideEnabled: 'Disabled' } });
    }
    if (isObj(boot) && this.opts.forceContinuous && isObj(r['Boot'])) (r['Boot'] as Json)['BootSourceOverrideEnabled'] = 'Continuous';
    if (isMedia && 'Image' in body) {
      const img = body['Image'];
      merge(r, { ImageName: typeof img === 'string' ? img.split('/').pop() : null, ConnectedVia: typeof img === 'string' ? 'URI' : 'NotConnected' });
    }
    this.send(res, rec, 204);
  }

  private action(res: ServerResponse, rec: RecordedRequest, resourcePath: string, name: string, body: unknown, raw: string): void {
    const r = this.resource(resourcePath);
    const b = isObj(body) ? body : {};
    switch (name) {
      case 'ComputerSystem.Reset':
        return this.reset(res, rec, r, b);
      case 'VirtualMedia.InsertMedia':
        return this.insert(res, rec, r, b);
      case 'VirtualMedia.EjectMedia':
      case 'HpeiLOVirtualMedia.EjectVirtualMedia':
        if (this.opts.ejectNeedsBody && raw === '') return this.send(res, rec, 415, redfishError('Base.1.8.UnsupportedMediaType', 'The request body must be JSON.'));
        merge(r, { Image: null, ImageName: null, Inserted: false, ConnectedVia: 'NotConnected' });
        return this.send(res, rec, 204);
      case 'HpeiLOVirtualMedia.InsertVirtualMedia': {
        const extra = Object.keys(b).filter((k) => k !== 'Image');
        if (extra.length > 0) return this.send(res, rec, 400, redfishError('iLO.2.14.ActionParameterUnknown', `InsertVirtualMedia does not take ${extra.join(', ')}`));
        if (typeof b['Image'] !== 'string') return this.send(res, rec, 400, redfishError('Base.1.4.ActionParameterMissing', 'InsertVirtualMedia requires Image'));
        merge(r, { Image: b['Image'], ImageName: b['Image'].split('/').pop(), Inserted: true, ConnectedVia: 'URI' });
        return this.send(res, rec, 200, { error: { code: 'iLO.0.10.ExtendedInfo', message: 'See @Message.ExtendedInfo for more information.', '@Message.ExtendedInfo': [{ MessageId: 'Base.1.4.Success' }] } });
      }
      case 'OemManager.ImportSystemConfiguration': {
        const buf = typeof b['ImportBuffer'] === 'string' ? b['ImportBuffer'] : '';
        const m = /ServerBoot\.1#FirstBootDevice">([^<]*)</.exec(buf);
        const id = `JID_${Date.now()}${this.nextId++}`;
        const path = `/redfish/v1/TaskService/Tasks/${id}`;
        this.tasks.set(norm(path), {
          id,
          monitor: path,
          taskPath: path,
          pollsLeft: this.opts.dellJobPolls ?? 2,
          outcome: 'Completed',
          messages: [{ Message: 'Successfully imported and applied Server Configuration Profile.', MessageArgs: [], 'MessageArgs@odata.count': 0, MessageId: 'IDRAC.2.8.SYS053' }],
          finalStatus: 200,
        });
        if (m !== null) this.dellFirstBootDevice = m[1];
        return this.send(res, rec, 202, undefined, { Location: path });
      }
      default:
        return this.send(res, rec, 204);
    }
  }

  private allowedResets(r: Json): unknown[] | undefined {
    const a = isObj(r['Actions']) ? ((r['Actions'] as Json)['#ComputerSystem.Reset'] as Json | undefined) : undefined;
    if (a === undefined) return undefined;
    if (Array.isArray(a['ResetType@Redfish.AllowableValues'])) return a['ResetType@Redfish.AllowableValues'];
    const info = typeof a['@Redfish.ActionInfo'] === 'string' ? this.resources.get(norm(a['@Redfish.ActionInfo'])) : undefined;
    const params = info !== undefined && Array.isArray(info['Parameters']) ? (info['Parameters'] as Json[]) : [];
    const p = params.find((x) => x['Name'] === 'ResetType');
    return p !== undefined && Array.isArray(p['AllowableValues']) ? p['AllowableValues'] : undefined;
  }

  private reset(res: ServerResponse, rec: RecordedRequest, r: Json, b: Json): void {
    const type = b['ResetType'];
    const allowed = this.allowedResets(r);
    if (typeof type !== 'string' || (allowed !== undefined && !allowed.includes(type))) {
      return this.send(res, rec, 400, redfishError('Base.1.8.ActionParameterValueNotInList', `The value ${String(type)} for the parameter ResetType is not in the list of acceptable values.`));
    }
    const on = r['PowerState'] === 'On';
    if (this.opts.conflictOnRedundantPower && ((on && (type === 'On' || type === 'ForceOn')) || (!on && (type === 'ForceOff' || type === 'GracefulShutdown')))) {
      return this.send(res, rec, 409, redfishError('Base.1.8.ResourceInStandby', 'The request could not be performed because the resource is already in the requested state.'));
    }
    const next = type === 'PushPowerButton' ? (on ? 'Off' : 'On') : ['ForceOff', 'GracefulShutdown'].includes(type) ? 'Off' : type === 'Nmi' ? r['PowerState'] : 'On';
    r['PowerState'] = next;
    if (this.opts.resetTaskPolls !== undefined) {
      const monitor = this.createTask(this.opts.resetTaskPolls, 'Completed', [{ MessageId: 'Base.1.8.Success', Message: `Reset ${type} done` }]);
      return this.send(res, rec, 202, undefined, { Location: monitor });
    }
    this.send(res, rec, 204);
  }

  private insert(res: ServerResponse, rec: RecordedRequest, r: Json, b: Json): void {
    const q = this.opts.insert ?? {};
    const image = b['Image'];
    if (typeof image !== 'string') return this.send(res, rec, 400, redfishError('Base.1.8.ActionParameterMissing', 'The action InsertMedia requires the parameter Image to be present in the request body.'));
    if (q.rejectFlags && ('Inserted' in b || 'WriteProtected' in b)) {
      return this.send(res, rec, 400, redfishError('Base.1.8.ActionParameterNotSupported', 'The parameter Inserted for the action InsertMedia is not supported on the target resource.'));
    }
    if (q.rejectTransferProtocolType && 'TransferProtocolType' in b) {
      return this.send(res, rec, 400, redfishError('Base.1.8.ActionParameterUnknown', 'The action InsertMedia was submitted with the invalid parameter TransferProtocolType.', { RelatedProperties: ['#/TransferProtocolType'] }));
    }
    if (q.requireTransferProtocolType && !('TransferProtocolType' in b)) {
      return this.send(res, rec, 400, this.errors.get('400-transfer-protocol-required') ?? redfishError('Base.1.5.ActionParameterMissing', 'TransferProtocolType is required'));
    }
    if (q.requireTransferMethod && !('TransferMethod' in b)) {
      return this.send(res, rec, 400, this.errors.get('400-transfer-method-required') ?? redfishError('Base.1.4.0.GeneralError', "'TransferMethod' property which is mandatory to complete the action is missing in the request body."));
    }
    if (q.schemes !== undefined && !q.schemes.includes(image.split(':')[0] ?? '')) {
      return this.send(res, rec, 400, redfishError('Base.1.8.ResourceAtUriInUnknownFormat', `The resource at ${image} is in a format not recognized by the service.`));
    }
    if (q.refuseWhileImageSet && typeof r['Image'] === 'string' && r['Image'] !== '') {
      return this.send(res, rec, 400, redfishError('Base.1.8.GeneralError', 'Virtual media is already in use; eject it first.'));
    }
    if (q.noop) return this.send(res, rec, 204);
    if (r['Inserted'] === true) return this.send(res, rec, 409, redfishError('Base.1.8.ResourceInUse', 'The change could not be made because the resource was in use.'));
    merge(r, {
      Image: image,
      ImageName: image.split('/').pop(),
      Inserted: b['Inserted'] ?? true,
      WriteProtected: b['WriteProtected'] ?? true,
      ConnectedVia: 'URI',
      ...(typeof b['TransferProtocolType'] === 'string' ? { TransferProtocolType: b['TransferProtocolType'] } : {}),
    });
    this.send(res, rec, 204);
  }
}
