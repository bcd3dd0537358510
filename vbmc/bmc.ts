// One virtual BMC: a fastify server speaking Redfish for one VirtualMachine, with a personality,
// sessions, tasks, ETags and fault injection. Outside /redfish, /vbmc/* is a small admin API for
// tests and `rackboot lab` (faults, state, simulated guest actions); it never shows the password.

import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { FaultInjector } from './faults.js';
import { MachineError, RESET_TYPES, type ResetType, type VirtualMachine } from './machine.js';
import type { Personality, SlotDef } from './personalities.js';
import { redfishError, type RedfishErrorReply } from './redfish-errors.js';
import { etagFor, normalizePath, pathsOf, renderTask, renderTree, slotActionPath, slotPath, type Json, type RenderState, type Session, type Task } from './resources.js';
import { check, FaultSettings, GuestAction, HpeInsert, InsertMedia, MediaPatch, ResetBody, SessionLogin, SystemPatch } from './schemas.js';
import type { BmcCertificate } from './tls-cert.js';

export interface BmcLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface VirtualBmcOptions {
  name: string;
  personality: Personality;
  machine: VirtualMachine;
  username: string;
  password: string;
  /** Undefined = plain HTTP. */
  tls?: BmcCertificate;
  faults?: FaultSettings;
  /** Idle session lifetime. Default 1800 s (SessionService.SessionTimeout). */
  sessionTimeoutMs?: number;
  logger: BmcLogger;
}

const SESSION_TIMEOUT_MS = 1800_000;

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

function fromError(e: RedfishErrorReply): Reply {
  return { status: e.status, body: e.body, ...(e.headers === undefined ? {} : { headers: e.headers }) };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export class VirtualBmc {
  readonly app: FastifyInstance;
  readonly faults: FaultInjector;
  private readonly state: RenderState;
  private taskSeq = 0;
  private readonly sessionTimeoutMs: number;

  constructor(private readonly opts: VirtualBmcOptions) {
    this.faults = new FaultInjector(opts.faults ?? {});
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? SESSION_TIMEOUT_MS;
    this.state = { p: opts.personality, m: opts.machine, serviceUuid: randomUUID(), sessions: [], tasks: [], hpeBootOnNextReset: new Set() };
    // HPE's BootOnNextServerReset is consumed by the next start, like the override it stands for.
    opts.machine.on('boot', () => this.state.hpeBootOnNextReset.clear());
    this.app = Fastify({
      logger: false,
      forceCloseConnections: true,
      bodyLimit: 1 << 20,
      ...(opts.tls === undefined ? {} : { https: { cert: opts.tls.certPem, key: opts.tls.keyPem } }),
    });
    // Bodies of any content type are read as JSON when they parse (some clients send none).
    this.app.removeAllContentTypeParsers();
    this.app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    this.routes();
  }

  get personality(): Personality {
    return this.opts.personality;
  }

  get machine(): VirtualMachine {
    return this.opts.machine;
  }

  get sessionCount(): number {
    this.expireSessions();
    return this.state.sessions.length;
  }

  private log(msg: string): void {
    this.opts.logger.info(`vbmc ${this.opts.name}: ${msg}`);
  }

  private routes(): void {
    const app = this.app;
    app.get('/redfish', async (_req, reply) => this.send(reply, { status: 200, body: { v1: '/redfish/v1/' } }));
    app.route({
      method: ['GET', 'POST', 'PATCH', 'DELETE', 'PUT'],
      url: '/redfish/v1',
      handler: (req, reply) => this.handle(req, reply),
    });
    app.route({
      method: ['GET', 'POST', 'PATCH', 'DELETE', 'PUT'],
      url: '/redfish/v1/*',
      handler: (req, reply) => this.handle(req, reply),
    });
    app.get('/vbmc/faults', async (_req, reply) => reply.send({ settings: this.faults.get(), counters: this.faults.counters }));
    app.put('/vbmc/faults', async (req, reply) => {
      const body = parseJson(req.body);
      const c = check(FaultSettings, body.ok ? body.value : undefined);
      if (!c.ok) {
        this.opts.logger.warn(`vbmc ${this.opts.name}: bad /vbmc/faults body: ${body.ok ? c.problem : body.problem}`);
        return reply.code(400).send({ error: body.ok ? c.problem : body.problem });
      }
      this.faults.set(c.value);
      this.log(`faults set to ${JSON.stringify(c.value)}`);
      return reply.send({ settings: this.faults.get() });
    });
    app.get('/vbmc/state', async (_req, reply) => reply.send(await this.describe()));
    // QMP query-block of the running VM (null when off): which medium each drive holds.
    app.get('/vbmc/block', async (_req, reply) => {
      try {
        return reply.send({ block: (await this.machine.queryBlock()) ?? null });
      } catch (err) {
        return reply.code(500).send({ error: err instanceof Error ? err.message : String(err) });
      }
    });
    app.post('/vbmc/guest', async (req, reply) => {
      const body = parseJson(req.body);
      const c = check(GuestAction, body.ok ? body.value : undefined);
      if (!c.ok) return reply.code(400).send({ error: body.ok ? c.problem : body.problem });
      try {
        await this.machine.simulateGuest(c.value.action);
      } catch (err) {
        const status = err instanceof MachineError ? err.httpStatus : 500;
        return reply.code(status).send({ error: err instanceof Error ? err.message : String(err) });
      }
      return reply.send({ power: this.machine.power });
    });
  }

  /** The admin view: personality, power, boot override, media, boot history, sessions, faults. */
  async describe(): Promise<Json> {
    const m = this.machine;
    return {
      name: this.opts.name,
      personality: this.personality.id,
      systemPath: pathsOf(this.personality).system,
      power: m.power,
      boot: { ...m.boot },
      media: m.media.map((x) => ({ image: x.image ?? null, inserted: x.inserted, writeProtected: x.writeProtected })),
      boots: m.boots,
      sessions: this.sessionCount,
      qemuPid: m.qemuPid ?? null,
      faults: { settings: this.faults.get(), counters: this.faults.counters },
    };
  }

  private send(reply: FastifyReply, r: Reply): FastifyReply {
    reply.code(r.status);
    reply.header('OData-Version', '4.0');
    for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
    if (r.body === undefined) return reply.send();
    reply.header('Content-Type', 'application/json; charset=utf-8');
    return reply.send(JSON.stringify(r.body));
  }

  private async handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const method = req.method;
    const path = normalizePath(req.url);
    const decision = this.faults.decide(method);
    if (decision.kind === 'hang') {
      // Never answer: the client's timeout fires and it closes the connection.
      this.log(`fault: hanging ${method} ${path}`);
      reply.hijack();
      await new Promise<void>((resolve) => req.raw.socket.once('close', () => resolve()));
      return reply;
    }
    if (decision.delayMs > 0) await new Promise((r) => setTimeout(r, decision.delayMs));
    if (decision.kind === 'unavailable') {
      this.log(`fault: 503 for ${method} ${path}`);
      return this.send(reply, fromError(redfishError(503, 'ServiceTemporarilyUnavailable', `The service is temporarily unavailable. Retry in ${decision.retryAfterSeconds} seconds.`, [], { 'Retry-After': String(decision.retryAfterSeconds) })));
    }
    if (decision.kind === 'error') {
      this.log(`fault: 500 for ${method} ${path}`);
      return this.send(reply, fromError(redfishError(500, 'InternalError', 'The request failed due to an internal service error (injected fault).')));
    }
    let r: Reply;
    try {
      r = await this.dispatch(req, method, path);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (err instanceof MachineError) {
        this.opts.logger.warn(`vbmc ${this.opts.name}: ${method} ${path}: ${msg}`);
        r = fromError(redfishError(err.httpStatus, err.httpStatus >= 500 ? 'InternalError' : 'GeneralError', msg));
      } else {
        this.opts.logger.warn(`vbmc ${this.opts.name}: ${method} ${path} failed: ${msg}`);
        r = fromError(redfishError(500, 'InternalError', 'The request failed due to an internal service error.'));
      }
    }
    if (r.status === 400 || r.status === 415) this.opts.logger.warn(`vbmc ${this.opts.name}: ${method} ${path} -> ${r.status} ${describeError(r.body)}`);
    return this.send(reply, r);
  }

  // ---------------------------------------------------------------------------------------------
  // Authentication

  private expireSessions(): void {
    const now = Date.now();
    this.state.sessions = this.state.sessions.filter((s) => now - s.lastUsed < this.sessionTimeoutMs);
  }

  /** undefined when authenticated; else the 401 reply. */
  private authenticate(req: FastifyRequest, method: string): Reply | undefined {
    this.expireSessions();
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && token !== '') {
      const s = this.state.sessions.find((x) => safeEqual(x.token, token));
      if (s !== undefined) {
        if (s.uses > 0 && this.faults.sessionExpired(method)) {
          this.log(`fault: session ${s.id} expired early`);
          this.state.sessions = this.state.sessions.filter((x) => x !== s);
        } else {
          s.lastUsed = Date.now();
          s.uses++;
          return undefined;
        }
      }
    }
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i >= 0 && safeEqual(decoded.slice(0, i), this.opts.username) && safeEqual(decoded.slice(i + 1), this.opts.password)) return undefined;
    }
    return fromError(redfishError(401, 'NoValidSession', 'There is no valid session established with the implementation.', [], { 'WWW-Authenticate': 'Basic realm="Redfish"' }));
  }

  private login(body: unknown): Reply {
    const c = check(SessionLogin, body);
    if (!c.ok) return fromError(redfishError(400, 'PropertyMissing', `The session request is missing UserName or Password (${c.problem}).`, ['#/UserName', '#/Password']));
    if (!safeEqual(c.value.UserName, this.opts.username) || !safeEqual(c.value.Password, this.opts.password)) {
      this.opts.logger.warn(`vbmc ${this.opts.name}: login refused for user ${JSON.stringify(c.value.UserName)}`);
      return fromError(redfishError(401, 'NoValidSession', 'Invalid username or password.'));
    }
    this.expireSessions();
    const p = this.personality;
    if (this.state.sessions.length >= p.maxSessions) {
      this.opts.logger.warn(`vbmc ${this.opts.name}: session limit ${p.maxSessions} reached`);
      if (p.sessionLimit === 'dell-400') {
        return fromError(redfishError(400, 'IDRAC.2.8.RAC0218', 'The maximum number of user sessions is reached.'));
      }
      return fromError(redfishError(503, 'SessionLimitExceeded', 'The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.', [], { 'Retry-After': '5' }));
    }
    const id = randomBytes(8).toString('hex');
    const session: Session = { id, token: randomBytes(16).toString('hex'), userName: c.value.UserName, createdAt: Date.now(), lastUsed: Date.now(), uses: 0 };
    this.state.sessions.push(session);
    const P = pathsOf(p);
    const location = `${P.sessions}/${id}${p.trailingSlash ? '/' : ''}`;
    this.log(`session ${id} created`);
    return {
      status: 201,
      headers: { 'X-Auth-Token': session.token, Location: location },
      body: { '@odata.id': location, '@odata.type': '#Session.v1_5_0.Session', Id: id, Name: 'User Session', UserName: session.userName },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Dispatch

  private async dispatch(req: FastifyRequest, method: string, path: string): Promise<Reply> {
    const p = this.personality;
    const P = pathsOf(p);
    const parsed = parseJson(req.body);
    if (method === 'GET' && path === P.root) return this.getResource(path);
    if (method === 'POST' && path === P.sessions) {
      if (!parsed.ok) return fromError(redfishError(400, 'MalformedJSON', `The request body submitted was malformed JSON (${parsed.problem}).`));
      return this.login(parsed.value);
    }
    const denied = this.authenticate(req, method);
    if (denied !== undefined) return denied;
    if ((method === 'POST' || method === 'PATCH') && !parsed.ok) {
      return fromError(redfishError(400, 'MalformedJSON', `The request body submitted was malformed JSON (${parsed.problem}).`));
    }
    const body = parsed.ok ? parsed.value : undefined;

    if (method === 'GET') {
      if (path.startsWith(`${P.taskMonitors}/`)) return this.taskMonitor(path.slice(P.taskMonitors.length + 1));
      return this.getResource(path);
    }
    if (method === 'DELETE') {
      if (path.startsWith(`${P.sessions}/`)) {
        const id = path.slice(P.sessions.length + 1);
        const before = this.state.sessions.length;
        this.state.sessions = this.state.sessions.filter((s) => s.id !== id);
        if (this.state.sessions.length === before) return notFound(path);
        this.log(`session ${id} deleted`);
        return { status: 204 };
      }
      return this.exists(path) ? methodNotAllowed(method, path) : notFound(path);
    }
    if (method === 'POST') {
      if (path === P.reset) return this.reset(body);
      for (const sl of p.slots) {
        if (path === slotActionPath(p, sl, 'InsertMedia') && (sl.style === 'standard' || sl.style === 'hpe-both')) return this.insertAction(sl, body);
        if (path === slotActionPath(p, sl, 'EjectMedia') && (sl.style === 'standard' || sl.style === 'hpe-both' || sl.style === 'openbmc-proxy')) return this.ejectAction(sl, req);
        if (path === slotActionPath(p, sl, 'HpeInsert') && (sl.style === 'hpe-oem' || sl.style === 'hpe-both')) return this.hpeInsert(sl, body);
        if (path === slotActionPath(p, sl, 'HpeEject') && (sl.style === 'hpe-oem' || sl.style === 'hpe-both')) return this.ejectAction(sl, req);
      }
      return this.exists(path) ? methodNotAllowed(method, path) : notFound(path);
    }
    if (method === 'PATCH') {
      const pre = this.precondition(req, path);
      if (pre !== undefined) return pre;
      if (path === P.system) return this.patchSystem(body);
      const sl = p.slots.find((s) => slotPath(p, s) === path);
      if (sl !== undefined) return this.patchSlot(sl, body);
      return this.exists(path) ? methodNotAllowed(method, path) : notFound(path);
    }
    return methodNotAllowed(method, path);
  }

  private exists(path: string): boolean {
    return renderTree(this.state).has(path);
  }

  private getResource(path: string): Reply {
    const body = renderTree(this.state).get(path);
    if (body === undefined) return notFound(path);
    const etag = etagFor(this.personality, body);
    const out: Json = this.personality.etag === 'weak' ? { ...body, '@odata.etag': etag } : body;
    const headers: Record<string, string> = { ETag: etag };
    const sl = this.personality.slots.find((s) => slotPath(this.personality, s) === path);
    if (sl?.style === 'patch') headers['Allow'] = 'GET, PATCH';
    return { status: 200, body: out, headers };
  }

  /** If-Match check for a PATCH: 428 when required and missing, 412 when stale (or injected). */
  private precondition(req: FastifyRequest, path: string): Reply | undefined {
    const body = renderTree(this.state).get(path);
    if (body === undefined) return undefined;
    const current = etagFor(this.personality, body);
    const ifMatch = req.headers['if-match'];
    if (ifMatch === undefined || ifMatch === '') {
      if (this.personality.ifMatch === 'required') return fromError(redfishError(428, 'PreconditionRequired', 'A precondition header or annotation is required to change this resource.'));
      return undefined;
    }
    const offered = ifMatch.split(',').map((e) => e.trim());
    if (!offered.includes('*') && !offered.includes(current)) {
      return fromError(redfishError(412, 'PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'));
    }
    if (this.faults.precondition('PATCH')) {
      this.log(`fault: 412 for PATCH ${path}`);
      return fromError(redfishError(412, 'PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'));
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Power and boot

  private async reset(body: unknown): Promise<Reply> {
    const c = check(ResetBody, body);
    if (!c.ok) return fromError(redfishError(400, 'ActionParameterMissing', 'The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.', ['#/ResetType']));
    const type = c.value.ResetType;
    const p = this.personality;
    if (!p.resetTypes.includes(type) || !(RESET_TYPES as readonly string[]).includes(type)) {
      return fromError(redfishError(400, 'ActionParameterNotSupported', `The parameter ResetType with value ${type} is not supported by the action ComputerSystem.Reset.`, ['#/ResetType']));
    }
    const m = this.machine;
    if (p.id.startsWith('hpe') && (type === 'On' || type === 'ForceOn') && m.power === 'On') {
      return fromError(redfishError(400, 'iLO.2.15.InvalidOperationForSystemState', 'The operation is not valid for the current system state.'));
    }
    await m.reset(type as ResetType);
    this.log(`reset ${type} -> ${m.power}`);
    if (p.resetStatus === 200) return { status: 200, body: successBody() };
    return { status: 204 };
  }

  private patchSystem(body: unknown): Reply {
    const c = check(SystemPatch, body);
    if (!c.ok) return fromError(redfishError(400, 'PropertyUnknown', `The request contains properties this service cannot change (${c.problem}).`, [`#${c.path}`]));
    const boot = c.value.Boot;
    if (boot === undefined) return { status: 204 };
    const p = this.personality;
    const m = this.machine;
    const target = boot.BootSourceOverrideTarget;
    if (target !== undefined && !p.bootTargets.includes(target)) {
      return fromError(redfishError(400, 'PropertyValueNotInList', `The value ${target} for the property BootSourceOverrideTarget is not in the list of acceptable values.`, ['#/Boot/BootSourceOverrideTarget']));
    }
    const mode = boot.BootSourceOverrideMode ?? m.boot.mode;
    if ((target ?? m.boot.target) === 'UefiHttp' && mode === 'Legacy') {
      return fromError(redfishError(400, 'PropertyValueConflict', 'BootSourceOverrideTarget UefiHttp needs BootSourceOverrideMode UEFI.', ['#/Boot/BootSourceOverrideTarget']));
    }
    m.setBoot({
      ...(target === undefined ? {} : { target }),
      ...(boot.BootSourceOverrideEnabled === undefined ? {} : { enabled: boot.BootSourceOverrideEnabled }),
      ...(boot.BootSourceOverrideMode === undefined ? {} : { mode: boot.BootSourceOverrideMode }),
      ...(typeof boot.HttpBootUri === 'string' ? { httpBootUri: boot.HttpBootUri } : {}),
    });
    if (boot.HttpBootUri === null) delete m.boot.httpBootUri;
    if (p.bootPatchRevertsWithoutMode && boot.BootSourceOverrideMode === undefined) {
      // Answers 200 yet the firmware drops the change (bmclib PR #459): only a read-back shows it.
      m.setBoot({ enabled: 'Disabled', mode: 'Legacy' });
      this.log('boot override accepted without a mode and reverted (quirk)');
    } else {
      this.log(`boot override ${m.boot.target} ${m.boot.enabled} ${m.boot.mode}`);
    }
    return p.id.startsWith('hpe') || p.id === 'supermicro' ? { status: 200, body: successBody() } : { status: 204 };
  }

  // ---------------------------------------------------------------------------------------------
  // Virtual media

  private mediaUrlProblem(image: string): Reply | undefined {
    let url: URL;
    try {
      url = new URL(image);
    } catch {
      return fromError(redfishError(400, 'ActionParameterValueFormatError', `The value ${image} for the parameter Image is not a URL.`, ['#/Image']));
    }
    if (!this.personality.mediaSchemes.includes(url.protocol)) {
      return fromError(redfishError(400, 'ActionParameterValueFormatError', `This service mounts only ${this.personality.mediaSchemes.join(' / ')} images, not ${url.protocol}//.`, ['#/Image']));
    }
    if (url.protocol === 'smb:') return fromError(redfishError(400, 'ActionParameterValueFormatError', 'CIFS images are not supported by the virtual BMC.', ['#/Image']));
    return undefined;
  }

  private async insertAction(sl: SlotDef, body: unknown): Promise<Reply> {
    const c = check(InsertMedia, body);
    if (!c.ok) return fromError(redfishError(400, 'ActionParameterMissing', `The action InsertMedia requires the parameter Image (${c.problem}).`, ['#/Image']));
    const v = c.value;
    const p = this.personality;
    if (p.insertRejectsFlags && (v.Inserted !== undefined || v.WriteProtected !== undefined)) {
      const prop = v.Inserted !== undefined ? 'Inserted' : 'WriteProtected';
      return fromError(redfishError(400, 'ActionParameterNotSupported', `The parameter ${prop} for the action InsertMedia is not supported on the target resource.`, [`#/${prop}`]));
    }
    if (v.Inserted === false) return { status: 204 };
    const bad = this.mediaUrlProblem(v.Image);
    if (bad !== undefined) return bad;
    if (v.TransferProtocolType !== undefined) {
      const scheme = new URL(v.Image).protocol.replace(':', '').toUpperCase();
      const allowed = p.insertProtocols ?? ['HTTP', 'HTTPS'];
      if (!allowed.includes(v.TransferProtocolType) || v.TransferProtocolType !== scheme) {
        return fromError(redfishError(400, 'ActionParameterValueNotInList', `TransferProtocolType ${v.TransferProtocolType} does not fit the image ${v.Image}.`, ['#/TransferProtocolType']));
      }
    }
    if (sl.machineSlot === undefined) return fromError(redfishError(400, 'ActionNotSupported', `Slot ${sl.id} cannot mount a remote image.`));
    const slot = sl.machineSlot;
    const opts = { ...(v.WriteProtected === undefined ? {} : { writeProtected: v.WriteProtected }), ...(v.TransferProtocolType === undefined ? {} : { transferProtocolType: v.TransferProtocolType }) };
    if (p.asyncInsert) return this.startTask(`insert ${v.Image} into ${sl.id}`, () => this.machine.insertMedia(slot, v.Image, opts));
    await this.machine.insertMedia(slot, v.Image, opts);
    return { status: 204 };
  }

  private async hpeInsert(sl: SlotDef, body: unknown): Promise<Reply> {
    const c = check(HpeInsert, body);
    if (!c.ok) return fromError(redfishError(400, 'ActionParameterMissing', `The action InsertVirtualMedia requires the parameter Image (${c.problem}).`, ['#/Image']));
    const bad = this.mediaUrlProblem(c.value.Image);
    if (bad !== undefined) return bad;
    if (sl.machineSlot === undefined) return fromError(redfishError(400, 'ActionNotSupported', `Slot ${sl.id} cannot mount a CD image.`));
    await this.machine.insertMedia(sl.machineSlot, c.value.Image);
    return { status: 200, body: successBody() };
  }

  private async ejectAction(sl: SlotDef, req: FastifyRequest): Promise<Reply> {
    if (this.personality.ejectNeedsBody && (typeof req.body !== 'string' || req.body.trim() === '')) {
      return fromError(redfishError(415, 'UnsupportedMediaType', 'The request needs a JSON body ({}).'));
    }
    if (sl.machineSlot !== undefined) await this.machine.ejectMedia(sl.machineSlot);
    return this.personality.id.startsWith('hpe') ? { status: 200, body: successBody() } : { status: 204 };
  }

  private async patchSlot(sl: SlotDef, body: unknown): Promise<Reply> {
    const c = check(MediaPatch, body);
    if (!c.ok) return fromError(redfishError(400, 'PropertyUnknown', `The request contains properties this service cannot change (${c.problem}).`, [`#${c.path}`]));
    const v = c.value;
    const p = this.personality;
    const bootNext = v.Oem?.Hpe?.BootOnNextServerReset;
    if (bootNext !== undefined && (sl.style === 'hpe-oem' || sl.style === 'hpe-both')) {
      if (bootNext) {
        this.state.hpeBootOnNextReset.add(sl.id);
        this.machine.setBoot({ target: 'Cd', enabled: 'Once' });
      } else this.state.hpeBootOnNextReset.delete(sl.id);
    }
    const touchesMedia = v.Image !== undefined || v.Inserted !== undefined;
    if (touchesMedia) {
      if (sl.style !== 'patch') return fromError(redfishError(400, 'PropertyNotWritable', 'The property Image is a read only property and cannot be assigned a value; use the InsertMedia action.', ['#/Image']));
      if (sl.machineSlot === undefined) return fromError(redfishError(400, 'ActionNotSupported', `Slot ${sl.id} cannot mount a remote image.`));
      if (v.Image === null || v.Inserted === false) await this.machine.ejectMedia(sl.machineSlot);
      else if (typeof v.Image === 'string') {
        const bad = this.mediaUrlProblem(v.Image);
        if (bad !== undefined) return bad;
        await this.machine.insertMedia(sl.machineSlot, v.Image, {
          ...(v.WriteProtected === undefined ? {} : { writeProtected: v.WriteProtected }),
          ...(typeof v.TransferProtocolType === 'string' ? { transferProtocolType: v.TransferProtocolType } : {}),
        });
      } else return fromError(redfishError(400, 'PropertyMissing', 'Inserting media by PATCH needs Image.', ['#/Image']));
    }
    return p.id.startsWith('hpe') ? { status: 200, body: successBody() } : { status: 204 };
  }

  // ---------------------------------------------------------------------------------------------
  // Tasks (202 + task monitor)

  private startTask(what: string, work: () => Promise<void>): Reply {
    const id = this.personality.id === 'dell' ? `JID_${String(Date.now()).slice(-9)}${++this.taskSeq}` : String(++this.taskSeq);
    const task: Task = { id, state: 'Running', status: 'OK', percent: 0, messages: [], startTime: new Date().toISOString() };
    this.state.tasks.push(task);
    if (this.state.tasks.length > 50) this.state.tasks.shift();
    void work().then(
      () => {
        task.state = 'Completed';
        task.percent = 100;
        task.resultStatus = 204;
        task.messages.push({ MessageId: 'Base.1.16.Success', Message: 'Successfully Completed Request', Severity: 'OK' });
        task.endTime = new Date().toISOString();
        this.log(`task ${id} (${what}) completed`);
      },
      (err: unknown) => {
        task.state = 'Exception';
        task.status = 'Critical';
        task.resultStatus = 400;
        task.messages.push({ MessageId: 'Base.1.16.GeneralError', Message: err instanceof Error ? err.message : String(err), Severity: 'Critical' });
        task.endTime = new Date().toISOString();
        this.opts.logger.warn(`vbmc ${this.opts.name}: task ${id} (${what}) failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    const P = pathsOf(this.personality);
    return { status: 202, headers: { Location: `${P.taskMonitors}/${id}`, 'Retry-After': '1' }, body: renderTask(this.personality, task) };
  }

  private taskMonitor(id: string): Reply {
    const task = this.state.tasks.find((t) => t.id === id);
    if (task === undefined) return notFound(`${pathsOf(this.personality).taskMonitors}/${id}`);
    const P = pathsOf(this.personality);
    if (task.state === 'Running') return { status: 202, headers: { Location: `${P.taskMonitors}/${id}`, 'Retry-After': '1' }, body: renderTask(this.personality, task) };
    if (task.state === 'Exception') return fromError(redfishError(task.resultStatus ?? 400, 'GeneralError', task.messages.map((m) => m.Message).join('; ')));
    return { status: 200, body: renderTask(this.personality, task) };
  }

  // ---------------------------------------------------------------------------------------------

  /** Listens; returns the bound port. */
  async listen(host: string, port: number): Promise<number> {
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
    return addr.port;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

function parseJson(body: unknown): { ok: true; value: unknown } | { ok: false; problem: string } {
  if (body === undefined || body === null) return { ok: true, value: undefined };
  if (typeof body !== 'string') return { ok: true, value: body };
  if (body.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (err) {
    return { ok: false, problem: err instanceof Error ? err.message : 'bad JSON' };
  }
}

function notFound(path: string): Reply {
  return fromError(redfishError(404, 'ResourceNotFound', `The requested resource of type Resource named ${path} was not found.`));
}

function methodNotAllowed(method: string, path: string): Reply {
  return fromError(redfishError(405, 'OperationNotAllowed', `The HTTP method ${method} is not allowed on ${path}.`));
}

function successBody(): Json {
  return { '@Message.ExtendedInfo': [{ MessageId: 'Base.1.16.Success', Message: 'The request completed successfully.', Severity: 'OK', MessageSeverity: 'OK' }] };
}

function describeError(body: unknown): string {
  const e = (body as { error?: { message?: string } } | undefined)?.error;
  return e?.message ?? '';
}
