// A MAAS REST API 2.0 stand-in for tests: a fastify app on 127.0.0.1 (port 0) that answers the
// endpoints the rackboot MAAS client uses the way MAAS 3.6 does (see README notes in each module):
// OAuth PLAINTEXT with nonce replay and 300 s timestamp checks, op dispatch from the query string,
// the form body or an `/op-<name>` path suffix, form-only bodies, machine status transitions over
// (controllable) time, events with cursors, chunked boot-resource uploads, and injectable faults
// (503 / retryable 409 with Retry-After, 504, slow answers, dropped upload connections).
// restart() keeps all state, stop() ends it.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { assembled, createResource, deleteResource, listResources, readResource, uploadChunk } from './boot-resources.js';
import { createTag, listTags, queryEvents, readTag, updateNodes } from './events-tags.js';
import { badRequest, json, MultiMap, parseBody, text, type HandlerResult, type ParsedRequest, type Reply } from './http.js';
import { MACHINE_EXPORTS, MACHINES_EXPORTS, withMachine } from './machines.js';
import { authenticate } from './oauth.js';
import { DEFAULT_TIMINGS, StandinClock, StandinState, type AddMachineInput, type StandinMachine, type Timings } from './state.js';

export { StandinClock, StandinState, S, STATUS_NAME, LEVEL } from './state.js';
export type { AddMachineInput, StandinMachine, StandinEvent, Timings, DeployOutcome } from './state.js';

const API = '/MAAS/api/2.0/';

export interface MaasStandinOptions {
  timings?: Partial<Timings>;
  /** Imported Ubuntu series, deployable as `<series>` or `ubuntu/<series>`. Default jammy and noble. */
  ubuntuSeries?: string[];
  /** Config default_distro_series (what a deploy without distro_series gets). Default jammy. */
  defaultDistroSeries?: string;
  /** Commissioning series, the default base_image of uploads. Default jammy. */
  commissioningSeries?: string;
  clock?: StandinClock;
  /** Largest request body (upload chunks). Default 64 MiB. */
  bodyLimit?: number;
}

export interface FaultSpec {
  /** How many matching requests get the fault. Default 1. */
  times?: number;
  status: number;
  /** Retry-After header, seconds. */
  retryAfter?: number;
  body?: string;
  contentType?: string;
  method?: string;
  op?: string;
  /** Matched against the path below /MAAS/api/2.0/. */
  path?: RegExp;
  /** Wait this long before answering (the wait ends early on stop()). */
  delayMs?: number;
}

interface ActiveFault extends FaultSpec {
  remaining: number;
}

export interface CapturedRequest {
  method: string;
  path: string;
  op: string | null;
  query: [string, string][];
  contentType: string;
  /** Form fields as MAAS's request.POST saw them (empty for JSON). */
  form: [string, string][];
  json: unknown;
  bodyBytes: number;
  authorization: string | null;
  oauth: Record<string, string> | null;
  username: string | null;
  status?: number;
  fault?: boolean;
  dropped?: boolean;
}

export interface MaasStandin {
  /** `http://127.0.0.1:<port>/MAAS` (what MaasClient takes as baseUrl). */
  readonly url: string;
  readonly apiUrl: string;
  readonly port: number;
  /** API keys `consumer:token:secret` for an admin and a non-admin user. */
  readonly adminKey: string;
  readonly userKey: string;
  readonly state: StandinState;
  readonly clock: StandinClock;
  /** Every request received, in order (including rejected and faulted ones). */
  readonly requests: CapturedRequest[];
  addMachine(input?: AddMachineInput): StandinMachine;
  /** The machine as MAAS would render it now (transitions applied). */
  machine(systemId: string): Record<string, unknown>;
  /** Moves the stand-in's clock forward and applies due transitions. */
  advance(ms: number): void;
  /** Decoded user data stored for a machine (MAAS decodes base64 that round-trips). */
  userData(systemId: string): Buffer | null;
  /** The bytes MAAS assembled for an uploaded resource's newest file. */
  assembled(resourceId: number): Buffer | null;
  readonly faults: {
    add(spec: FaultSpec): void;
    /** 503 with MAAS's no-rack text and Retry-After (default 10, as RETRY_AFTER_SERVICE_UNAVAILABLE). */
    serviceUnavailable(times?: number, opts?: { retryAfter?: number | null; method?: string; op?: string; path?: RegExp }): void;
    /** 409 with Retry-After 5 and an HTML body (HttpResponseConflict after MAAS's own retries). */
    retryableConflict(times?: number, opts?: { method?: string; op?: string; path?: RegExp }): void;
    gatewayTimeout(times?: number, opts?: { method?: string; op?: string; path?: RegExp }): void;
    /** Answer (normally) only after `ms`. */
    slow(ms: number, times?: number, opts?: { method?: string; op?: string; path?: RegExp }): void;
    /** Cut the connection of an upload PUT, before or after the chunk is stored. */
    dropUpload(opts: { when: 'before-store' | 'after-store'; afterChunks?: number; times?: number }): void;
    clear(): void;
  };
  /** Closes the listener and opens it again on the same port; state (machines, nonces...) is kept. */
  restart(): Promise<void>;
  /** Stops listening (connections are cut). start() reopens on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

interface Route {
  re: RegExp;
  anonymous?: boolean;
  dispatch: (st: StandinState, req: ParsedRequest, op: string | null, m: RegExpMatchArray) => HandlerResult | undefined;
}

function opKey(method: string, op: string | null): string {
  return `${method} ${op ?? ''}`;
}

export async function createMaasStandin(opts: MaasStandinOptions = {}): Promise<MaasStandin> {
  const clock = opts.clock ?? new StandinClock();
  const state = new StandinState({
    clock,
    timings: { ...DEFAULT_TIMINGS, ...opts.timings },
    ubuntuSeries: opts.ubuntuSeries ?? ['jammy', 'noble'],
    defaultDistroSeries: opts.defaultDistroSeries ?? 'jammy',
    commissioningSeries: opts.commissioningSeries ?? 'jammy',
  });
  state.addUser('admin', true);
  state.addUser('user1', false);
  const adminKey = state.addToken('admin');
  const userKey = state.addToken('user1');
  const requests: CapturedRequest[] = [];
  const faults: ActiveFault[] = [];
  const drops: { when: 'before-store' | 'after-store'; skip: number; remaining: number }[] = [];
  const waiters = new Set<() => void>();
  const bodyLimit = opts.bodyLimit ?? 64 * 1024 * 1024;

  const routes: Route[] = [
    { re: /^version\/$/, anonymous: true, dispatch: (_st, req, op) => (req.method === 'GET' && op === null ? json({ capabilities: ['networks-management', 'static-ipaddresses', 'devices-management', 'storage-deployment-ubuntu', 'network-deployment-ubuntu', 'bridging-interface-ubuntu', 'bridging-automatic-ubuntu', 'authenticate-api'], version: '3.6.5', subversion: '' }) : undefined) },
    {
      re: /^users\/$/,
      dispatch: (_st, req, op) => {
        if (req.method === 'GET' && op === 'whoami') {
          const u = req.user!;
          return json({ is_superuser: u.isAdmin, username: u.username, email: u.email, is_local: true, resource_uri: `/MAAS/api/2.0/users/${u.username}/` });
        }
        return undefined;
      },
    },
    {
      re: /^machines\/$/,
      dispatch: (st, req, op) => MACHINES_EXPORTS[opKey(req.method, op)]?.(st, req),
    },
    {
      re: /^machines\/([^/]+)\/$/,
      dispatch: (st, req, op, m) => {
        const h = MACHINE_EXPORTS[opKey(req.method, op)];
        return h === undefined ? undefined : withMachine(st, decodeURIComponent(m[1]!), h)(req);
      },
    },
    { re: /^events\/$/, dispatch: (st, req, op) => (req.method === 'GET' && op === 'query' ? queryEvents(st, req) : undefined) },
    {
      re: /^tags\/$/,
      dispatch: (st, req, op) => (op !== null ? undefined : req.method === 'GET' ? listTags(st) : req.method === 'POST' ? createTag(st, req) : undefined),
    },
    {
      re: /^tags\/([^/]+)\/$/,
      dispatch: (st, req, op, m) => {
        const name = decodeURIComponent(m[1]!);
        if (req.method === 'GET' && op === null) return readTag(st, name);
        if (req.method === 'POST' && op === 'update_nodes') return updateNodes(st, req, name);
        return undefined;
      },
    },
    {
      re: /^boot-resources\/$/,
      dispatch: (st, req, op) =>
        op !== null ? undefined : req.method === 'GET' ? listResources(st, req) : req.method === 'POST' ? createResource(st, req) : undefined,
    },
    {
      re: /^boot-resources\/([^/]+)\/$/,
      dispatch: (st, req, op, m) =>
        op !== null ? undefined : req.method === 'GET' ? readResource(st, m[1]!) : req.method === 'DELETE' ? deleteResource(st, req, m[1]!) : undefined,
    },
    {
      re: /^boot-resources\/([^/]+)\/upload\/([^/]+)\/$/,
      dispatch: (st, req, op, m) => {
        if (req.method !== 'PUT' || op !== null) return undefined;
        return uploadChunk(st, req, m[1]!, m[2]!, () => {
          const d = drops.find((x) => x.remaining > 0);
          if (d === undefined) return null;
          if (d.skip > 0) {
            d.skip--;
            return null;
          }
          d.remaining--;
          return d.when;
        });
      },
    },
  ];

  /** Django URL resolution, including the `/op-<name>` aliases urls_api.re_path adds. */
  function resolve(rel: string): { route: Route; match: RegExpMatchArray; pathOp: string | null } | null {
    for (const route of routes) {
      const match = rel.match(route.re);
      if (match !== null) return { route, match, pathOp: null };
    }
    const alias = /^(.*\/)op-([^/]+)$/.exec(rel);
    if (alias !== null) {
      for (const route of routes) {
        const match = alias[1]!.match(route.re);
        if (match !== null) return { route, match, pathOp: alias[2]! };
      }
    }
    return null;
  }

  function takeFault(method: string, rel: string, op: string | null): ActiveFault | undefined {
    const f = faults.find(
      (x) => x.remaining > 0 && (x.method === undefined || x.method === method) && (x.op === undefined || x.op === op) && (x.path === undefined || x.path.test(rel)),
    );
    if (f !== undefined) f.remaining--;
    return f;
  }

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      waiters.add(done);
    });
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    state.tick();
    const url = new URL(request.raw.url ?? '/', 'http://standin');
    const rel = url.pathname.slice(API.length);
    const method = request.method.toUpperCase();
    const contentType = request.headers['content-type'] ?? '';
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const body = parseBody(method, contentType, raw);
    const cl = request.headers['content-length'];
    const parsed: ParsedRequest = {
      method,
      path: rel,
      query: MultiMap.fromSearch(url.search),
      ...body,
      raw,
      contentType,
      contentLength: cl === undefined ? undefined : Number(cl),
      user: null,
    };
    const authorization = typeof request.headers.authorization === 'string' ? request.headers.authorization : null;
    const cap: CapturedRequest = {
      method,
      path: rel,
      op: null,
      query: parsed.query.pairs,
      contentType,
      form: parsed.POST.pairs,
      json: parsed.json,
      bodyBytes: raw.length,
      authorization,
      oauth: null,
      username: null,
    };
    requests.push(cap);
    const send = (r: Reply): void => {
      cap.status = r.status;
      void reply.code(r.status).headers(r.headers ?? {}).header('content-type', r.contentType).send(r.body);
    };

    const resolved = resolve(rel);
    if (resolved === null) return send(text(404, 'Not Found'));
    const auth = authenticate(authorization ?? undefined, state);
    if (auth.kind === 'error') {
      cap.oauth = auth.params;
      return send({ ...text(auth.status, auth.body), ...(auth.status === 401 ? { headers: { 'www-authenticate': 'OAuth realm="OAuth"' } } : {}) });
    }
    if (auth.kind === 'ok') {
      cap.oauth = auth.params;
      cap.username = auth.user.username;
      parsed.user = auth.user;
    } else if (resolved.route.anonymous !== true) {
      // MAASAPIAuthentication.challenge returns piston's rc.FORBIDDEN: ('Forbidden', 401).
      return send(text(401, 'Forbidden', { 'www-authenticate': 'OAuth realm="OAuth"' }));
    }
    // OperationsHandlerMixin.dispatch: request.GET, then request.POST, then the path suffix.
    const op = parsed.query.get('op') || parsed.POST.get('op') || resolved.pathOp || null;
    cap.op = op;

    const fault = takeFault(method, rel, op);
    if (fault !== undefined) {
      cap.fault = true;
      if (fault.delayMs !== undefined) await wait(fault.delayMs);
      if (fault.status !== 0) {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        return send({ status: fault.status, contentType: fault.contentType ?? 'text/plain; charset=utf-8', body: fault.body ?? '', headers });
      }
    }
    state.tick();
    const result = resolved.route.dispatch(state, parsed, op, resolved.match);
    if (result === undefined) return send(badRequest(`Unrecognised signature: method=${method} op=${op ?? 'None'}`));
    if ('drop' in result) {
      cap.dropped = true;
      reply.hijack();
      request.raw.socket.destroy();
      return;
    }
    send(result);
  }

  function build(): FastifyInstance {
    const app = Fastify({ logger: false, bodyLimit, forceCloseConnections: true });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, b, done) => done(null, b));
    app.all('/MAAS/api/2.0/*', handle);
    return app;
  }

  let app: FastifyInstance | null = build();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('stand-in did not get a TCP port');
  const port = addr.port;
  const base = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    for (const w of [...waiters]) w();
    if (app !== null) {
      const a = app;
      app = null;
      await a.close();
    }
  };
  const start = async (): Promise<void> => {
    if (app !== null) return;
    const a = build();
    await a.listen({ host: '127.0.0.1', port });
    app = a;
  };

  const faultOpts = (o: { method?: string; op?: string; path?: RegExp } | undefined): Partial<FaultSpec> => ({ ...(o ?? {}) });

  return {
    url: `${base}/MAAS`,
    apiUrl: `${base}${API}`,
    port,
    adminKey,
    userKey,
    state,
    clock,
    requests,
    addMachine: (input) => state.addMachine(input),
    machine(systemId) {
      state.tick();
      const m = state.machines.get(systemId);
      if (m === undefined) throw new Error(`stand-in has no machine ${systemId}`);
      return state.renderMachine(m);
    },
    advance(ms) {
      clock.advance(ms);
      state.tick();
    },
    userData: (id) => state.userData(id),
    assembled: (id) => assembled(state, id),
    faults: {
      add(spec) {
        faults.push({ ...spec, remaining: spec.times ?? 1 });
      },
      serviceUnavailable(times = 1, o) {
        const retryAfter = o?.retryAfter === undefined ? 10 : o.retryAfter;
        this.add({
          ...faultOpts(o),
          times,
          status: 503,
          ...(retryAfter !== null ? { retryAfter } : {}),
          body: "Unable to connect to rack controller 'rack-1' (4y3h7n); no connections available.",
        });
      },
      retryableConflict(times = 1, o) {
        this.add({
          ...faultOpts(o),
          times,
          status: 409,
          retryAfter: 5,
          contentType: 'text/html; charset=utf-8',
          body: '<html><body><h1>Conflict</h1><p>The request could not be completed because of a conflict; retry later.</p></body></html>',
        });
      },
      gatewayTimeout(times = 1, o) {
        this.add({ ...faultOpts(o), times, status: 504, body: 'Timed out waiting for the rack controller.' });
      },
      slow(ms, times = 1, o) {
        this.add({ ...faultOpts(o), times, status: 0, delayMs: ms });
      },
      dropUpload({ when, afterChunks = 0, times = 1 }) {
        drops.push({ when, skip: afterChunks, remaining: times });
      },
      clear() {
        faults.length = 0;
        drops.length = 0;
      },
    },
    async restart() {
      await stop();
      await start();
    },
    stop,
    start,
  };
}
