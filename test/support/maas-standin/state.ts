// State of the MAAS stand-in: users and API tokens, used nonces, machines with their status machine,
// events, tags, zones, pools and boot resources. It lives outside the HTTP server so that restart()
// keeps it, as a real MAAS keeps its database across a region restart.
//
// Time is a clock the test owns: `now()` is the wall clock plus an offset that advance() moves, so
// OAuth timestamps from a real-time client stay valid while machine transitions (Deploying ->
// Deployed...) happen exactly when the test advances the clock. Due transitions are applied lazily,
// at the time they were due, before every request is served.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export class StandinClock {
  private offset = 0;
  constructor(private readonly base: () => number = Date.now) {}
  now(): number {
    return this.base() + this.offset;
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

/** Logging levels (Python logging; AUDIT = 0 as in src/maascommon/events.py). */
export const LEVEL = { AUDIT: 0, DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 } as const;
export type LevelName = keyof typeof LEVEL;
export const LEVEL_NAME: Record<number, LevelName> = { 0: 'AUDIT', 10: 'DEBUG', 20: 'INFO', 30: 'WARNING', 40: 'ERROR', 50: 'CRITICAL' };

/** src/maasserver/enum.py NODE_STATUS / NODE_STATUS_CHOICES (the stand-in keeps its own copy). */
export const S = {
  NEW: 0,
  COMMISSIONING: 1,
  FAILED_COMMISSIONING: 2,
  MISSING: 3,
  READY: 4,
  RESERVED: 5,
  DEPLOYED: 6,
  RETIRED: 7,
  BROKEN: 8,
  DEPLOYING: 9,
  ALLOCATED: 10,
  FAILED_DEPLOYMENT: 11,
  RELEASING: 12,
  FAILED_RELEASING: 13,
  DISK_ERASING: 14,
  FAILED_DISK_ERASING: 15,
  RESCUE_MODE: 16,
  ENTERING_RESCUE_MODE: 17,
  FAILED_ENTERING_RESCUE_MODE: 18,
  EXITING_RESCUE_MODE: 19,
  FAILED_EXITING_RESCUE_MODE: 20,
  TESTING: 21,
  FAILED_TESTING: 22,
} as const;

export const STATUS_NAME: Record<number, string> = {
  0: 'New',
  1: 'Commissioning',
  2: 'Failed commissioning',
  3: 'Missing',
  4: 'Ready',
  5: 'Reserved',
  6: 'Deployed',
  7: 'Retired',
  8: 'Broken',
  9: 'Deploying',
  10: 'Allocated',
  11: 'Failed deployment',
  12: 'Releasing',
  13: 'Releasing failed',
  14: 'Disk erasing',
  15: 'Failed disk erasing',
  16: 'Rescue mode',
  17: 'Entering rescue mode',
  18: 'Failed to enter rescue mode',
  19: 'Exiting rescue mode',
  20: 'Failed to exit rescue mode',
  21: 'Testing',
  22: 'Failed testing',
};

/** Lower-case constant names, the values of the machine list `status` filter. */
export const STATUS_FILTER: Record<string, number> = Object.fromEntries(Object.entries(S).map(([k, v]) => [k.toLowerCase(), v]));

/** src/maasserver/models/node.py RELEASABLE_STATUSES. */
export const RELEASABLE = new Set<number>([
  S.ALLOCATED,
  S.RESERVED,
  S.BROKEN,
  S.DEPLOYING,
  S.DEPLOYED,
  S.FAILED_DEPLOYMENT,
  S.FAILED_DISK_ERASING,
  S.FAILED_RELEASING,
]);

export interface StandinUser {
  username: string;
  isAdmin: boolean;
  email: string;
}

export interface StandinToken {
  consumerKey: string;
  tokenKey: string;
  tokenSecret: string;
  username: string;
}

export interface StandinEvent {
  id: number;
  systemId: string;
  hostname: string;
  username: string;
  level: number;
  type: string;
  description: string;
  created: number;
}

export type DeployOutcome = 'success' | 'fail' | 'hang';

interface PendingStep {
  at: number;
  apply: () => void;
}

export interface StandinMachine {
  id: number;
  system_id: string;
  hostname: string;
  domain: string;
  architecture: string;
  status: number;
  previousStatus: number;
  owner: string | null;
  locked: boolean;
  power_type: string;
  power_state: string;
  power_parameters: Record<string, string>;
  osystem: string;
  distro_series: string;
  hwe_kernel: string | null;
  netboot: boolean;
  ephemeral_deploy: boolean;
  agent_name: string;
  tags: Set<string>;
  pool: string;
  zone: string;
  mac: string;
  ip_addresses: string[];
  cpu_count: number;
  memory: number;
  error_description: string;
  /** The user_data form value exactly as received (base64 text per the API docs). */
  userDataRaw: string | null;
  deployOutcome: DeployOutcome;
  pending: PendingStep[];
  workload_annotations: Record<string, string>;
}

export interface StandinBootFile {
  id: number;
  filename: string;
  filetype: string;
  sha256: string;
  filename_on_disk: string;
  size: number;
  /** Bytes received so far, in order (append-only, as MAAS's local store). */
  chunks: Buffer[];
  received: number;
}

export interface StandinBootSet {
  id: number;
  version: string;
  label: string;
  files: StandinBootFile[];
}

export interface StandinBootResource {
  id: number;
  rtype: 'Synced' | 'Uploaded';
  name: string;
  architecture: string;
  title: string;
  subarches: string;
  base_image: string | null;
  sets: StandinBootSet[];
}

export interface StandinTag {
  name: string;
  definition: string;
  comment: string;
  kernel_opts: string;
}

export interface Timings {
  /** Virtual time from deploy to Deployed; the intermediate install events are spread over it. */
  deployMs: number;
  /** Releasing -> Ready. */
  releaseMs: number;
  /** Disk erasing -> Ready (release with erase=true). */
  diskEraseMs: number;
  /** MAAS node_timeout in minutes; a hung deployment fails after twice that (3.6.2+). */
  nodeTimeoutMin: number;
}

export const DEFAULT_TIMINGS: Timings = { deployMs: 70_000, releaseMs: 10_000, diskEraseMs: 30_000, nodeTimeoutMin: 30 };

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const SYSID = 'abcdefghjkmnpqrstwxy0123456789';

export function randomString(n: number, alphabet = ALNUM): string {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[bytes[i]! % alphabet.length];
  return s;
}

/** The gomaasclient test fixture (Apache-2.0) every rendered machine starts from. */
let template: Record<string, unknown> | undefined;
function machineTemplate(): Record<string, unknown> {
  if (template === undefined) {
    const p = fileURLToPath(new URL('../../fixtures/maas/machine.gomaasclient.json', import.meta.url));
    template = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  }
  return template;
}

function replaceSystemIds(v: unknown, from: string, to: string): unknown {
  if (Array.isArray(v)) return v.map((x) => replaceSystemIds(x, from, to));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = k === 'system_id' && x === from ? to : replaceSystemIds(x, from, to);
    return out;
  }
  return v;
}

/** `%a, %d %b. %Y %H:%M:%S` (src/maasserver/api/events.py); the stand-in's "local time" is UTC. */
export function maasEventTime(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]}. ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

export interface AddMachineInput {
  system_id?: string;
  hostname?: string;
  status?: number;
  owner?: string | null;
  mac?: string;
  tags?: string[];
  pool?: string;
  zone?: string;
  power_type?: string;
  power_state?: string;
  power_parameters?: Record<string, string>;
  architecture?: string;
  locked?: boolean;
  osystem?: string;
  distro_series?: string;
  agent_name?: string;
  deployOutcome?: DeployOutcome;
}

export class StandinState {
  readonly clock: StandinClock;
  timings: Timings;
  ubuntuSeries: string[];
  defaultDistroSeries: string;
  commissioningSeries: string;

  readonly users = new Map<string, StandinUser>();
  readonly tokens: StandinToken[] = [];
  /** `${consumer}:${token}:${nonce}`, as MAAS's Nonce table (kept across restarts). */
  readonly nonces = new Set<string>();
  readonly machines = new Map<string, StandinMachine>();
  readonly events: StandinEvent[] = [];
  readonly tags = new Map<string, StandinTag>();
  readonly zones = new Set<string>(['default']);
  readonly pools = new Set<string>(['default']);
  readonly bootResources: StandinBootResource[] = [];

  private nextMachineId = 1;
  private nextEventId = 1000;
  private nextBootId = 1;
  private nextSetId = 1;
  private nextFileId = 1;

  constructor(opts: { clock: StandinClock; timings: Timings; ubuntuSeries: string[]; defaultDistroSeries: string; commissioningSeries: string }) {
    this.clock = opts.clock;
    this.timings = opts.timings;
    this.ubuntuSeries = opts.ubuntuSeries;
    this.defaultDistroSeries = opts.defaultDistroSeries;
    this.commissioningSeries = opts.commissioningSeries;
    for (const series of opts.ubuntuSeries) this.addSyncedResource(`ubuntu/${series}`);
  }

  // ---- users and keys -----------------------------------------------------------------------

  addUser(username: string, isAdmin: boolean): StandinUser {
    const u = { username, isAdmin, email: `${username}@example.com` };
    this.users.set(username, u);
    return u;
  }

  /** A new API key `consumer:token:secret` (18:18:32, as MAAS issues them). */
  addToken(username: string): string {
    const t: StandinToken = { consumerKey: randomString(18), tokenKey: randomString(18), tokenSecret: randomString(32), username };
    this.tokens.push(t);
    return `${t.consumerKey}:${t.tokenKey}:${t.tokenSecret}`;
  }

  revokeToken(apiKey: string): void {
    const tokenKey = apiKey.split(':')[1];
    const i = this.tokens.findIndex((t) => t.tokenKey === tokenKey);
    if (i >= 0) this.tokens.splice(i, 1);
  }

  // ---- events -------------------------------------------------------------------------------

  event(m: StandinMachine, level: number, type: string, description = '', username = 'unknown', at = this.clock.now()): StandinEvent {
    const e: StandinEvent = { id: this.nextEventId++, systemId: m.system_id, hostname: m.hostname, username, level, type, description, created: at };
    this.events.push(e);
    return e;
  }

  /** Node.status_message(): the newest INFO+ event, "type - description". */
  statusMessage(m: StandinMachine): string | null {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i]!;
      if (e.systemId === m.system_id && e.level >= LEVEL.INFO) return e.description !== '' ? `${e.type} - ${e.description}` : e.type;
    }
    return null;
  }

  /** update_status with the DEBUG "Node changed status" event MAAS records on every transition. */
  setStatus(m: StandinMachine, to: number, at = this.clock.now()): void {
    if (m.status === to) return;
    this.event(m, LEVEL.DEBUG, 'Node changed status', `From '${STATUS_NAME[m.status]}' to '${STATUS_NAME[to]}'`, 'unknown', at);
    m.previousStatus = m.status;
    m.status = to;
  }

  schedule(m: StandinMachine, delayMs: number, apply: (at: number) => void, from = this.clock.now()): void {
    const at = from + delayMs;
    m.pending.push({ at, apply: () => apply(at) });
    m.pending.sort((a, b) => a.at - b.at);
  }

  cancelPending(m: StandinMachine): void {
    m.pending = [];
  }

  /** Applies every transition due by now, in time order across machines. */
  tick(): void {
    const now = this.clock.now();
    for (;;) {
      let next: { m: StandinMachine; step: PendingStep } | undefined;
      for (const m of this.machines.values()) {
        const s = m.pending[0];
        if (s !== undefined && s.at <= now && (next === undefined || s.at < next.step.at)) next = { m, step: s };
      }
      if (next === undefined) return;
      next.m.pending.shift();
      next.step.apply();
    }
  }

  // ---- machines -----------------------------------------------------------------------------

  addMachine(input: AddMachineInput = {}): StandinMachine {
    const n = this.nextMachineId++;
    let system_id = input.system_id ?? randomString(6, SYSID);
    while (input.system_id === undefined && this.machines.has(system_id)) system_id = randomString(6, SYSID);
    const mac = (input.mac ?? `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`).toLowerCase();
    const status = input.status ?? S.READY;
    const m: StandinMachine = {
      id: n,
      system_id,
      hostname: input.hostname ?? `node-${n}`,
      domain: 'maas',
      architecture: input.architecture ?? 'amd64/generic',
      status,
      previousStatus: status,
      owner: input.owner ?? null,
      locked: input.locked ?? false,
      power_type: input.power_type ?? 'redfish',
      power_state: input.power_state ?? 'off',
      power_parameters: input.power_parameters ?? {
        power_address: `10.0.0.${n}`,
        power_user: 'admin',
        power_pass: 'secret',
        node_id: '1',
      },
      osystem: input.osystem ?? '',
      distro_series: input.distro_series ?? '',
      hwe_kernel: null,
      netboot: true,
      ephemeral_deploy: false,
      agent_name: input.agent_name ?? '',
      tags: new Set(input.tags ?? []),
      pool: input.pool ?? 'default',
      zone: input.zone ?? 'default',
      mac,
      ip_addresses: [],
      cpu_count: 8,
      memory: 16384,
      error_description: '',
      userDataRaw: null,
      deployOutcome: input.deployOutcome ?? 'success',
      pending: [],
      workload_annotations: {},
    };
    for (const t of m.tags) if (!this.tags.has(t)) this.addTag(t);
    this.zones.add(m.zone);
    this.pools.add(m.pool);
    this.machines.set(system_id, m);
    return m;
  }

  addTag(name: string, definition = '', comment = ''): StandinTag {
    const t = { name, definition, comment, kernel_opts: '' };
    this.tags.set(name, t);
    return t;
  }

  /** The machine as MAAS 3.6 renders it: the gomaasclient fixture with this machine's fields. */
  renderMachine(m: StandinMachine): Record<string, unknown> {
    const base = replaceSystemIds(structuredClone(machineTemplate()), 'g8xyqs', m.system_id) as Record<string, unknown>;
    const iface = (base['boot_interface'] ?? {}) as Record<string, unknown>;
    iface['mac_address'] = m.mac;
    const fqdn = `${m.hostname}.${m.domain}`;
    const statusMessage = this.statusMessage(m);
    return {
      ...base,
      system_id: m.system_id,
      hostname: m.hostname,
      fqdn,
      architecture: m.architecture,
      status: m.status,
      status_name: STATUS_NAME[m.status] ?? 'Unknown',
      status_message: statusMessage,
      status_action: '',
      error_description: m.error_description,
      owner: m.owner,
      owner_data: m.workload_annotations,
      workload_annotations: m.workload_annotations,
      locked: m.locked,
      power_type: m.power_type,
      power_state: m.power_state,
      osystem: m.osystem,
      distro_series: m.distro_series,
      hwe_kernel: m.hwe_kernel,
      netboot: m.netboot,
      ephemeral_deploy: m.ephemeral_deploy,
      enable_hw_sync: false,
      enable_kernel_crash_dump: false,
      cpu_count: m.cpu_count,
      memory: m.memory,
      tag_names: [...m.tags].sort(),
      ip_addresses: m.ip_addresses,
      pool: { name: m.pool, description: '', id: [...this.pools].indexOf(m.pool), resource_uri: `/MAAS/api/2.0/resourcepool/${[...this.pools].indexOf(m.pool)}/` },
      zone: { name: m.zone, description: '', id: [...this.zones].indexOf(m.zone), resource_uri: `/MAAS/api/2.0/zones/${m.zone}/` },
      boot_interface: iface,
      interface_set: [iface],
      hardware_uuid: null,
      resource_uri: `/MAAS/api/2.0/machines/${m.system_id}/`,
    };
  }

  /** MAAS base64-decodes stored user data when it round-trips as base64 (metadataserver UserDataHandler). */
  userData(systemId: string): Buffer | null {
    const m = this.machines.get(systemId);
    if (m === undefined || m.userDataRaw === null) return null;
    const raw = m.userDataRaw;
    const decoded = Buffer.from(raw, 'base64');
    return decoded.toString('base64') === raw ? decoded : Buffer.from(raw, 'utf8');
  }

  // ---- lifecycle transitions ----------------------------------------------------------------

  acquire(m: StandinMachine, username: string, agentName: string, comment: string): void {
    this.event(m, LEVEL.DEBUG, 'User acquiring node', comment, username);
    m.owner = username;
    m.agent_name = agentName;
    this.setStatus(m, S.ALLOCATED);
  }

  /** Node._start_deployment: Deploying now, then the curtin install over timings.deployMs. */
  startDeployment(m: StandinMachine, username: string, comment: string): void {
    this.event(m, LEVEL.DEBUG, 'User starting deployment', comment, username);
    this.setStatus(m, S.DEPLOYING);
    m.power_state = 'on';
    m.error_description = '';
    this.event(m, LEVEL.DEBUG, 'Node powered on');
    this.event(m, LEVEL.INFO, 'Deploying');
    const d = this.timings.deployMs;
    const steps = ['Performing PXE boot', 'Loading ephemeral', 'Configuring storage', 'Installing OS', 'Configuring OS', 'Rebooting'];
    const outcome = m.deployOutcome;
    steps.forEach((type, i) => {
      const at = Math.round((d * (i + 1)) / (steps.length + 1));
      if (outcome === 'fail' && i === 4) {
        this.schedule(m, at, (t) => this.failDeployment(m, 'Installation failed (refer to the installation log for more information).', t));
        return;
      }
      if (outcome === 'fail' && i > 4) return;
      this.schedule(m, at, (t) => {
        this.event(m, LEVEL.INFO, type, '', 'unknown', t);
        if (type === 'Rebooting') {
          this.event(m, LEVEL.DEBUG, 'Installation complete', 'Node disabled netboot', 'unknown', t);
          m.netboot = false;
        }
      });
    });
    if (outcome === 'success') {
      this.schedule(m, d, (t) => {
        this.setStatus(m, S.DEPLOYED, t);
        this.event(m, LEVEL.INFO, 'Deployed', '', 'unknown', t);
      });
    } else if (outcome === 'hang') {
      const minutes = this.timings.nodeTimeoutMin;
      this.schedule(m, 2 * minutes * 60_000, (t) => this.failDeployment(m, `Node operation 'Deploying' timed out after ${minutes} minutes.`, t));
    }
  }

  failDeployment(m: StandinMachine, reason: string, at = this.clock.now()): void {
    this.cancelPending(m);
    this.event(m, LEVEL.ERROR, 'Marking node failed', reason, 'unknown', at);
    m.error_description = reason;
    this.setStatus(m, S.FAILED_DEPLOYMENT, at);
  }

  startReleasing(m: StandinMachine, username: string, comment: string, erase: boolean): void {
    this.cancelPending(m);
    this.event(m, LEVEL.DEBUG, 'User releasing node', comment, username);
    this.setStatus(m, erase ? S.DISK_ERASING : S.RELEASING);
    this.event(m, LEVEL.INFO, 'Releasing');
    m.power_state = 'off';
    const done = (t: number): void => {
      if (erase) this.event(m, LEVEL.INFO, 'Disks erased', '', 'unknown', t);
      this.setStatus(m, S.READY, t);
      this.event(m, LEVEL.INFO, 'Released', '', 'unknown', t);
      this.clearOwnership(m);
    };
    this.schedule(m, erase ? this.timings.diskEraseMs : this.timings.releaseMs, done);
  }

  clearOwnership(m: StandinMachine): void {
    m.owner = null;
    m.agent_name = '';
    m.osystem = '';
    m.distro_series = '';
    m.hwe_kernel = null;
    m.userDataRaw = null;
    m.netboot = true;
    m.ephemeral_deploy = false;
    m.workload_annotations = {};
    m.locked = false;
  }

  // ---- boot resources -----------------------------------------------------------------------

  private versionFor(r: StandinBootResource): string {
    const d = new Date(this.clock.now());
    const base = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
    let v = base;
    for (let i = 1; r.sets.some((s) => s.version === v); i++) v = `${base}.${i}`;
    return v;
  }

  addSyncedResource(name: string): StandinBootResource {
    const r: StandinBootResource = {
      id: this.nextBootId++,
      rtype: 'Synced',
      name,
      architecture: 'amd64/ga-22.04',
      title: '',
      subarches: 'generic',
      base_image: null,
      sets: [],
    };
    this.bootResources.push(r);
    return r;
  }

  /** BootResourceForm.save for an upload: same name+arch adds a new set to the existing resource. */
  createUploaded(opts: { name: string; architecture: string; title: string; base_image: string; filetype: string; filename: string; sha256: string; size: number }): {
    resource: StandinBootResource;
    file: StandinBootFile;
  } {
    let r = this.bootResources.find((x) => x.rtype === 'Uploaded' && x.name === opts.name && x.architecture === opts.architecture);
    if (r === undefined) {
      r = { id: this.nextBootId++, rtype: 'Uploaded', name: opts.name, architecture: opts.architecture, title: opts.title, subarches: 'generic', base_image: opts.base_image, sets: [] };
      this.bootResources.push(r);
    } else {
      r.title = opts.title || r.title;
      r.base_image = opts.base_image;
    }
    const sameSha = this.bootResources.flatMap((x) => x.sets.flatMap((s) => s.files)).find((f) => f.sha256 === opts.sha256);
    const file: StandinBootFile = {
      id: this.nextFileId++,
      filename: opts.filename,
      filetype: opts.filetype,
      sha256: opts.sha256,
      filename_on_disk: sameSha?.filename_on_disk ?? opts.sha256.slice(0, 7),
      size: opts.size,
      chunks: [],
      received: 0,
    };
    r.sets.push({ id: this.nextSetId++, version: this.versionFor(r), label: 'uploaded', files: [file] });
    return { resource: r, file };
  }

  /** Available deployment images: imported Ubuntu series and complete uploaded images. */
  customImages(): string[] {
    return this.bootResources
      .filter((r) => r.rtype === 'Uploaded' && r.sets.some((s) => s.files.every((f) => f.received === f.size)))
      .map((r) => r.name);
  }
}
