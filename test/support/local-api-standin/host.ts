// One appliance host's Local Management API, as the swagger describes it
// (test/fixtures/local-api/emc-api-subset.json, trimmed from spectrocloud/librarium
// docs/api-content/api-docs/edge-v1/emc-api.json): HTTPS with a self-signed certificate, JWT login
// with a rate limit, link tokens valid 2 minutes, link/upload/sync status, cluster create, details
// and lifecycle events whose state moves on with the (injectable) clock. Hosts of one rack share a
// StandinFabric so a follower can check a leader's token, as linking does over the LAN.
// Every operation is counted by operationId; failures can be injected per operation.

import { randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import forge from 'node-forge';
import type { StandinClock } from './clock.js';
import { signJwt, verifyJwt } from './jwt.js';
import { MultipartReader, type ReceivedPart } from './multipart.js';

export const LINK_TOKEN_VALIDITY_MS = 120_000;

export interface InjectedFailure {
  status: number;
  /** v1Error body; default `{code: 'InternalError', message: 'injected failure'}`. */
  body?: unknown;
  retryAfterSec?: number;
  /** Upload only: drop the connection after this many body bytes instead of answering. */
  dropAfterBytes?: number;
  /** Read the request and never answer (a host that hangs); `status` is ignored. */
  hang?: boolean;
  /** How many calls fail; default 1. */
  times?: number;
}

export interface StandinTimings {
  /** From a follower's link apply to link status Completed. */
  linkMs: number;
  /** From upload to every content item `completed`. */
  syncMs: number;
  /** From cluster create to clusterState Running. */
  runningMs: number;
  /** From Running to health Healthy. */
  healthyMs: number;
}

export interface StandinHostOptions {
  address: string;
  hostName: string;
  username?: string;
  password?: string;
  /** Login attempts allowed per window before 429. Default 10 per 60 s. */
  loginLimit?: { max: number; windowMs: number };
  timings?: Partial<StandinTimings>;
}

interface Group {
  leader: StandinHost;
  members: Map<StandinHost, { appliedAt: number }>;
  upload?: { part: ReceivedPart; at: number };
  cluster?: { name: string; createdAt: number; config: ClusterBody; failReason?: string; runningReported?: boolean };
}

interface ClusterBody {
  metadata: { name: string };
  spec: {
    cloudConfig: {
      spec: {
        clusterConfig: { controlPlaneEndpoint?: { type?: string; host?: string }; ntpServers?: string[]; sshKeys?: string[] };
        machinePoolConfig: { name: string; isControlPlane?: boolean; hosts: { hostUid: string; hostName?: string; hostAddress?: string }[] }[];
      };
    };
    profileVariables?: { name: string; value: string }[];
  };
}

export interface StandinFabric {
  clock: StandinClock;
  hosts: Map<string, StandinHost>;
  /** kubeconfig the cluster reports once Running. */
  kubeconfig: (clusterName: string) => string;
  /** Called once when a cluster is first seen Running (a test brings its Kubernetes nodes up). */
  onClusterRunning?: (nodes: { hostName: string; address: string }[]) => void;
}

export class StandinHost {
  readonly uid = `edge-${randomBytes(8).toString('hex')}`;
  readonly calls = new Map<string, number>();
  readonly certPem: string;
  private readonly keyPem: string;
  private readonly secret = randomBytes(32);
  private readonly failures = new Map<string, InjectedFailure & { left: number }>();
  private readonly hooks = new Map<string, () => void>();
  private readonly timings: StandinTimings;
  private logins: number[] = [];
  private readonly hung = new Map<Socket, { closed: boolean }>();
  private server: https.Server | undefined;
  private linkToken: { token: string; expiresAt: number } | undefined;
  group: Group | undefined;
  port = 0;

  constructor(private readonly fabric: StandinFabric, readonly opts: StandinHostOptions) {
    const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = randomBytes(8).toString('hex');
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600_000);
    const subject = [{ name: 'commonName', value: opts.hostName }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 7, ip: opts.address }] }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    this.certPem = forge.pki.certificateToPem(cert);
    this.keyPem = forge.pki.privateKeyToPem(keys.privateKey);
    this.timings = { linkMs: 300, syncMs: 500, runningMs: 1500, healthyMs: 500, ...opts.timings };
    fabric.hosts.set(this.uid, this);
  }

  get address(): string {
    return this.opts.address;
  }

  /** Connections held by `hang` that the client has not closed yet. */
  hungOpen(): number {
    return [...this.hung.values()].filter((h) => !h.closed).length;
  }

  /** Connections `hang` has held so far, closed or not. */
  hungTotal(): number {
    return this.hung.size;
  }

  count(operationId: string): number {
    return this.calls.get(operationId) ?? 0;
  }

  /** The next `times` calls of operationId fail as described. */
  failNext(operationId: string, f: InjectedFailure): void {
    this.failures.set(operationId, { ...f, left: f.times ?? 1 });
  }

  /** Runs `fn` once, just before the next call of operationId is served (e.g. to move the clock). */
  beforeNext(operationId: string, fn: () => void): void {
    this.hooks.set(operationId, fn);
  }

  /** Puts the cluster in `Error` with this reason. */
  breakCluster(reason: string): void {
    if (this.group?.cluster !== undefined) this.group.cluster.failReason = reason;
  }

  /** The cluster recovers from `Error` (an operator mended it on the appliance). */
  mendCluster(): void {
    if (this.group?.cluster !== undefined) delete this.group.cluster.failReason;
  }

  /** Starts answering (the Local API comes up once the host booted). Reuses the port on restart. */
  async start(port = this.port): Promise<void> {
    const server = https.createServer({ cert: this.certPem, key: this.keyPem }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => send(res, 500, { code: 'InternalError', message: String(err) }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.opts.address, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  // ---- state seen by the API ---------------------------------------------------------------

  private now(): number {
    return this.fabric.clock.now();
  }

  private linkState(): { status: 'InProgress' | 'Completed'; peers: object[] } | undefined {
    const g = this.group;
    if (g === undefined) return undefined;
    const now = this.now();
    const done = [...g.members.values()].every((m) => now >= m.appliedAt + this.timings.linkMs);
    const synced = this.syncState()?.done === true;
    const peers = [g.leader, ...g.members.keys()].map((h) => ({
      id: h.uid,
      ip: h.address,
      localUIPort: String(h.port),
      role: h === g.leader ? 'leader' : 'follower',
      nodeRole: 'controlplane',
      status: h === g.leader || now >= g.members.get(h)!.appliedAt + this.timings.linkMs ? 'Linked' : 'Linking',
      contentSyncStatus: g.upload === undefined ? 'Pending' : synced ? 'Completed' : 'InProgress',
      health: { status: 'Healthy' },
    }));
    return { status: done ? 'Completed' : 'InProgress', peers };
  }

  private syncState(): { done: boolean; items: object[] } | undefined {
    const up = this.group?.upload;
    if (up === undefined) return undefined;
    const done = this.now() >= up.at + this.timings.syncMs;
    const stamp = new Date(up.at).toISOString();
    const names = ['spectro-core', 'hubble', 'zot', 'palette-ui'];
    const items = names.map((name) => ({
      name,
      version: '4.6.0',
      contentType: 'pack',
      status: done ? 'completed' : 'pending',
      source: up.part.filename,
      target: `oci://zot.local/${name}`,
      creationTimestamp: stamp,
      ...(done ? { lastSyncTimestamp: new Date(up.at + this.timings.syncMs).toISOString() } : {}),
    }));
    return { done, items };
  }

  private clusterView(): object | undefined {
    const c = this.group?.cluster;
    if (c === undefined) return undefined;
    const now = this.now();
    const runningAt = c.createdAt + this.timings.runningMs;
    const healthyAt = runningAt + this.timings.healthyMs;
    const state = c.failReason !== undefined ? 'Error' : now >= runningAt ? 'Running' : 'Provisioning';
    const healthy = state === 'Running' && now >= healthyAt;
    const spec = c.config.spec.cloudConfig.spec;
    if (state === 'Running' && c.runningReported !== true) {
      c.runningReported = true;
      this.fabric.onClusterRunning?.(spec.machinePoolConfig.flatMap((p) => p.hosts.map((h) => ({ hostName: h.hostName ?? '', address: h.hostAddress ?? '' }))));
    }
    return {
      metadata: { id: `cluster-${c.name}`, name: c.name, creationTimestamp: new Date(c.createdAt).toISOString() },
      spec: {
        vip: spec.clusterConfig.controlPlaneEndpoint?.host,
        ntpServers: spec.clusterConfig.ntpServers ?? [],
        sshKeys: spec.clusterConfig.sshKeys ?? [],
        hostIDs: spec.machinePoolConfig.flatMap((p) => p.hosts.map((h) => h.hostUid)),
      },
      status: {
        clusterState: state,
        ...(c.failReason !== undefined ? { clusterStateReason: c.failReason } : {}),
        health: { status: healthy ? 'Healthy' : 'Unhealthy', ...(healthy ? {} : { reason: state === 'Running' ? 'pods starting' : 'provisioning' }) },
        k8sVersion: '1.32.4',
        ...(state === 'Running' ? { kubeconfig: this.fabric.kubeconfig(c.name) } : {}),
        ntpServersApplied: state === 'Running',
        sshKeysApplied: state === 'Running',
        nodePools: spec.machinePoolConfig.map((p) => ({
          pool: { name: p.name, isControlPlane: p.isControlPlane === true, archType: 'amd64' },
          nodes: p.hosts.map((h) => ({
            nodeName: h.hostName,
            ipv4: h.hostAddress,
            nodeState: state,
            health: { status: healthy ? 'Healthy' : 'Unhealthy' },
            k8sVersion: '1.32.4',
          })),
        })),
      },
    };
  }

  private lifecycle(): object {
    const c = this.group?.cluster;
    const events: object[] = [];
    if (c !== undefined) {
      const t = (ms: number) => new Date(c.createdAt + ms).toISOString();
      const now = this.now() - c.createdAt;
      // The condition types are this stand-in's own: the swagger's v1LifecycleEvents lists
      // clusterEvents as v1Condition, whose `type` is a free string (no enum), and neither it nor the
      // librarium docs we found name the types an appliance reports. Formation only records them.
      const steps: [number, string, string][] = [
        [0, 'ClusterCreateAccepted', 'cluster configuration accepted'],
        [this.timings.runningMs / 3, 'ControlPlaneInitialized', 'first control-plane node initialised'],
        [(2 * this.timings.runningMs) / 3, 'NodesJoined', 'all hosts joined'],
        [this.timings.runningMs, 'ClusterRunning', 'cluster is running'],
        [this.timings.runningMs + this.timings.healthyMs, 'ClusterHealthy', 'all packs healthy'],
      ];
      for (const [at, type, message] of steps) if (now >= at && c.failReason === undefined) events.push({ type, status: 'True', reason: type, message, lastTransitionTime: t(at) });
      if (c.failReason !== undefined) events.push({ type: 'ClusterError', status: 'True', reason: 'Error', message: c.failReason, lastTransitionTime: new Date(this.now()).toISOString() });
    }
    return { clusterEvents: events, edgeHostEvents: [], expectedOrder: [] };
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://standin');
    const route = ROUTES.find((r) => r.method === req.method && r.path === url.pathname);
    if (route === undefined) {
      req.resume();
      return send(res, 404, { code: 'NotFound', message: `no route ${req.method} ${url.pathname}` });
    }
    const op = route.op;
    this.calls.set(op, this.count(op) + 1);
    const hook = this.hooks.get(op);
    if (hook !== undefined) {
      this.hooks.delete(op);
      hook();
    }
    const f = this.failures.get(op);
    if (f !== undefined && f.left > 0) {
      f.left--;
      if (f.left === 0) this.failures.delete(op);
      if (f.hang === true) {
        const h = { closed: false };
        this.hung.set(req.socket, h);
        req.socket.once('close', () => (h.closed = true));
        req.resume();
        return;
      }
      if (f.dropAfterBytes !== undefined) {
        let seen = 0;
        req.on('data', (b: Buffer) => {
          seen += b.length;
          if (seen >= f.dropAfterBytes!) req.socket.destroy();
        });
        return;
      }
      req.resume();
      return send(res, f.status, f.body ?? { code: 'InternalError', message: 'injected failure' }, f.retryAfterSec === undefined ? {} : { 'Retry-After': String(f.retryAfterSec) });
    }
    if (op !== 'V1Ping' && op !== 'V1UserLogin') {
      const jwt = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
      const v = verifyJwt(jwt, this.secret, Math.floor(this.now() / 1000));
      if (!v.ok) {
        req.resume();
        return send(res, 401, { code: 'Unauthorized', message: v.reason });
      }
    }
    if (op === 'V1ContentUpload') return this.upload(req, res);
    const raw = await readBody(req);
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return send(res, 400, { code: 'InvalidInput', message: 'request body is not JSON' });
      }
    }
    return route.run(this, body, url, res);
  }

  login(body: unknown, url: URL, res: ServerResponse): void {
    const now = this.now();
    const limit = this.opts.loginLimit ?? { max: 10, windowMs: 60_000 };
    this.logins = this.logins.filter((t) => t > now - limit.windowMs);
    if (this.logins.length >= limit.max) {
      const retry = Math.ceil((this.logins[0]! + limit.windowMs - now) / 1000);
      return send(res, 429, { code: 'TooManyRequests', message: 'too many login attempts' }, { 'Retry-After': String(Math.max(1, retry)) });
    }
    this.logins.push(now);
    const b = body as { username?: unknown; password?: unknown } | undefined;
    if (typeof b?.username !== 'string' || typeof b.password !== 'string') return send(res, 400, { code: 'InvalidInput', message: 'username and password are required' });
    if (b.username !== (this.opts.username ?? 'kairos') || b.password !== (this.opts.password ?? 'kairos-pw')) {
      return send(res, 401, { code: 'Unauthorized', message: 'invalid credentials' });
    }
    const iat = Math.floor(now / 1000);
    const hours = url.searchParams.get('extendedSession') === 'true' ? 24 : 2;
    const token = signJwt({ sub: b.username, iat, exp: iat + hours * 3600, jti: randomUUID() }, this.secret);
    send(res, 200, { IsFirstLogin: false, Token: { Authorization: token } });
  }

  edgeHostInfo(res: ServerResponse): void {
    send(res, 200, {
      metadata: { id: this.uid, name: this.opts.hostName },
      spec: {
        managementMode: 'local',
        connectionMode: 'airgap',
        nodeRole: this.group === undefined ? 'unknown' : 'controlplane',
        networkInfo: [{ nicName: 'eth0', ip: this.address, isDefault: true, macAddr: '52:54:00:00:00:01', subnet: '255.0.0.0' }],
        hardwareSpec: { archType: 'amd64', cpu: { cores: 8 }, memory: { sizeInMB: 32768 } },
      },
      status: { hostName: this.opts.hostName, configurationStatus: 'configured', agentVersion: 'v4.6.0', isClusterPhase: this.group?.cluster !== undefined },
    });
  }

  generateToken(res: ServerResponse): void {
    const now = this.now();
    if (this.group !== undefined && this.group.leader !== this) return send(res, 500, { code: 'LinkNotAllowed', message: 'host is linked as a follower' });
    if (this.linkToken === undefined || this.linkToken.expiresAt <= now) {
      const payload = { leaderId: this.uid, leaderIp: this.address, port: this.port, nonce: randomBytes(16).toString('hex') };
      this.linkToken = { token: Buffer.from(JSON.stringify(payload)).toString('base64'), expiresAt: now + LINK_TOKEN_VALIDITY_MS };
    }
    send(res, 200, { token: this.linkToken.token, remainingTime: Math.ceil((this.linkToken.expiresAt - now) / 1000), interval: LINK_TOKEN_VALIDITY_MS / 1000 });
  }

  applyLink(body: unknown, res: ServerResponse): void {
    const token = (body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string') return send(res, 400, { code: 'InvalidInput', message: 'token is required' });
    let leaderId: unknown;
    try {
      leaderId = (JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { leaderId?: unknown }).leaderId;
    } catch {
      return send(res, 400, { code: 'InvalidLinkToken', message: 'link token cannot be decoded' });
    }
    const leader = typeof leaderId === 'string' ? this.fabric.hosts.get(leaderId) : undefined;
    if (leader === undefined || leader === this) return send(res, 400, { code: 'InvalidLinkToken', message: 'link token names no reachable leader' });
    const current = leader.linkToken;
    if (current === undefined || current.token !== token) return send(res, 400, { code: 'InvalidLinkToken', message: 'link token is not the leader\'s current token' });
    if (current.expiresAt <= this.now()) return send(res, 400, { code: 'LinkTokenExpired', message: 'link token has expired' });
    if (this.group !== undefined) return send(res, 400, { code: 'AlreadyLinked', message: 'edge host is already linked' });
    if (leader.group === undefined) leader.group = { leader, members: new Map() };
    leader.group.members.set(this, { appliedAt: this.now() });
    this.group = leader.group;
    send(res, 200, this.linkState());
  }

  linkStatus(res: ServerResponse): void {
    const s = this.linkState();
    if (s === undefined) return send(res, 404, { code: 'NotFound', message: 'edge host is not linked' });
    send(res, 200, s);
  }

  private async upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const boundary = MultipartReader.boundaryOf(req.headers['content-type']);
    if (boundary === undefined) {
      req.resume();
      return send(res, 400, { code: 'InvalidInput', message: 'expected multipart/form-data with a boundary' });
    }
    const reader = new MultipartReader(boundary);
    for await (const chunk of req as AsyncIterable<Buffer>) reader.write(chunk);
    const file = reader.parts.find((p) => p.field === 'uploadFile');
    if (!reader.complete || file === undefined) return send(res, 400, { code: 'InvalidInput', message: reader.error ?? 'uploadFile is required' });
    if (this.group === undefined) this.group = { leader: this, members: new Map() };
    if (this.group.leader !== this) return send(res, 500, { code: 'NotLeader', message: 'upload content on the leader' });
    this.group.upload = { part: file, at: this.now() };
    send(res, 201, { message: 'content uploaded', uploadPath: `/usr/local/spectrocloud/content/${file.filename}` });
  }

  uploadedContent(res: ServerResponse): void {
    const up = this.group?.upload;
    if (up === undefined) return send(res, 404, { code: 'NotFound', message: 'no content uploaded' });
    const mib = up.part.size / (1 << 20);
    send(res, 200, {
      fileName: up.part.filename,
      sha256Hash: up.part.sha256,
      sizeInBytes: up.part.size,
      sizeInMiB: Math.round(mib * 100) / 100,
      sizeInGiB: Math.round((mib / 1024) * 100) / 100,
      uploadDateTime: new Date(up.at).toISOString(),
    });
  }

  syncStatus(res: ServerResponse): void {
    const s = this.syncState();
    if (s === undefined) return send(res, 200, { pendingItems: [], statusMessage: 'no content uploaded' });
    send(res, 200, { pendingItems: s.items, statusMessage: s.done ? 'all content synced' : 'syncing content to linked hosts' });
  }

  createCluster(body: unknown, res: ServerResponse): void {
    const b = body as ClusterBody | undefined;
    const spec = b?.spec?.cloudConfig?.spec;
    if (typeof b?.metadata?.name !== 'string' || spec?.clusterConfig === undefined || !Array.isArray(spec.machinePoolConfig)) {
      return send(res, 500, { code: 'InvalidClusterConfig', message: 'metadata.name, spec.cloudConfig.spec.clusterConfig and machinePoolConfig are required' });
    }
    if (this.group?.cluster !== undefined) return send(res, 500, { code: 'ClusterExists', message: `cluster ${this.group.cluster.name} already exists` });
    const g: Group = this.group ?? { leader: this, members: new Map() };
    const members = new Set([g.leader.uid, ...[...g.members.keys()].map((h) => h.uid)]);
    for (const pool of spec.machinePoolConfig) {
      for (const h of pool.hosts ?? []) {
        if (!members.has(h.hostUid)) return send(res, 500, { code: 'HostNotLinked', message: `host ${h.hostUid} is not linked to this host` });
      }
    }
    if (this.linkState()?.status === 'InProgress') return send(res, 500, { code: 'LinkInProgress', message: 'hosts are still linking' });
    if (this.syncState()?.done !== true) return send(res, 500, { code: 'ContentNotSynced', message: 'content is not uploaded or not synced' });
    this.group = g;
    g.cluster = { name: b.metadata.name, createdAt: this.now(), config: b };
    send(res, 202, { message: 'cluster creation initiated' });
  }

  clusterDetails(res: ServerResponse): void {
    const v = this.clusterView();
    if (v === undefined) return send(res, 404, { code: 'NotFound', message: 'cluster not found' });
    send(res, 200, v);
  }

  lifecycleEvents(res: ServerResponse): void {
    send(res, 200, this.lifecycle());
  }
}

interface Route {
  method: string;
  path: string;
  op: string;
  run: (h: StandinHost, body: unknown, url: URL, res: ServerResponse) => void;
}

const ROUTES: Route[] = [
  { method: 'GET', path: '/v1/ping', op: 'V1Ping', run: (_h, _b, _u, res) => send(res, 200, { msg: 'ok' }) },
  { method: 'POST', path: '/v1/users/default/login', op: 'V1UserLogin', run: (h, b, u, res) => h.login(b, u, res) },
  { method: 'GET', path: '/v1/edge-mgmt/edgehosts/current', op: 'v1EdgeHostInfo', run: (h, _b, _u, res) => h.edgeHostInfo(res) },
  { method: 'POST', path: '/v1/edge-mgmt/edgehosts/current/link/generate-token', op: 'v1EdgeHostLinkGenerateToken', run: (h, _b, _u, res) => h.generateToken(res) },
  { method: 'POST', path: '/v1/edge-mgmt/edgehosts/current/link', op: 'v1EdgeHostLink', run: (h, b, _u, res) => h.applyLink(b, res) },
  { method: 'GET', path: '/v1/edge-mgmt/edgehosts/current/link/status', op: 'v1EdgeHostLinkStatus', run: (h, _b, _u, res) => h.linkStatus(res) },
  { method: 'POST', path: '/v1/edge-mgmt/edgehosts/current/actions/upload-content', op: 'V1ContentUpload', run: () => undefined },
  { method: 'GET', path: '/v1/edge-mgmt/edgehosts/current/uploaded-content/details', op: 'v1UploadedContentDetails', run: (h, _b, _u, res) => h.uploadedContent(res) },
  { method: 'GET', path: '/v1/edge-mgmt/cluster/registry/content/sync-status/details', op: 'v1HarborContentsSyncStatusDetails', run: (h, _b, _u, res) => h.syncStatus(res) },
  { method: 'POST', path: '/v1/edge-mgmt/cluster', op: 'v1CreateCluster', run: (h, b, _u, res) => h.createCluster(b, res) },
  { method: 'GET', path: '/v1/edge-mgmt/cluster/details', op: 'v1ClusterGet', run: (h, _b, _u, res) => h.clusterDetails(res) },
  { method: 'GET', path: '/v1/edge-mgmt/events/lifecycle', op: 'v1GetLifecycleEvents', run: (h, _b, _u, res) => h.lifecycleEvents(res) },
];

/** Method and path of every operation the stand-in serves (checked against the swagger fixture). */
export const STANDIN_OPERATIONS = ROUTES.map((r) => ({ method: r.method, path: r.path, operationId: r.op }));

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 4 << 20) break;
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
