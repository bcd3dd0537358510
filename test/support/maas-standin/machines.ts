// Machine handlers, after canonical/maas 3.6.5 src/maasserver/api/machines.py (MachineHandler,
// MachinesHandler), src/maasserver/api/nodes.py (PowerMixin, PowersMixin), src/maasserver/models/node.py
// (abort_operation, mark_broken, mark_fixed, lock) and src/maasserver/node_constraint_filter_forms.py.
// Message texts are MAAS's; see test/fixtures/maas/errors.json for the ones pinned by tests.

import { conflict, fieldErrors, forbidden, json, notFound, stringBool, type MultiMap, type ParsedRequest, type Reply } from './http.js';
import { LEVEL, RELEASABLE, S, STATUS_FILTER, STATUS_NAME, type StandinMachine, type StandinState, type StandinUser } from './state.js';

type Op = (st: StandinState, req: ParsedRequest, m: StandinMachine) => Reply;

/** NodePermission.edit: the owner or an admin, and never a locked machine. */
function canEdit(user: StandinUser, m: StandinMachine): boolean {
  if (m.locked) return false;
  return user.isAdmin || m.owner === null || m.owner === user.username;
}

/** Python's str() of a list of strings, e.g. ['a', 'b']. */
function pyList(xs: string[]): string {
  return '[' + xs.map((x) => `'${x.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(', ') + ']';
}

/** parse_legacy_tags: "a,b c" and repeated keys both work. */
function tagList(values: string[]): string[] {
  return values.flatMap((v) => v.split(/[,\s]+/)).filter((t) => t !== '');
}

function norm(mac: string): string {
  return mac.trim().toLowerCase().replace(/-/g, ':');
}

// ---- list (ReadNodesForm) -------------------------------------------------------------------

const LIST_KEYS = new Set([
  'id',
  'not_id',
  'hostname',
  'not_hostname',
  'mac_address',
  'agent_name',
  'not_agent_name',
  'status',
  'not_status',
  'tags',
  'not_tags',
  'zone',
  'not_in_zone',
  'pool',
  'not_in_pool',
  'owner',
  'arch',
  'domain',
]);

function validateNames(st: StandinState, q: MultiMap, errors: Record<string, string[]>): void {
  const tags = tagList(q.getAll('tags'));
  const unknownTags = tags.filter((t) => !st.tags.has(t));
  if (unknownTags.length > 0) errors['tags'] = [`No such tag(s): ${unknownTags.map((t) => `'${t}'`).join(', ')}.`];
  for (const [key, set, noun] of [
    ['zone', st.zones, 'zone'],
    ['not_in_zone', st.zones, 'zone'],
    ['pool', st.pools, 'pool'],
    ['not_in_pool', st.pools, 'pool'],
  ] as const) {
    const missing = q.getAll(key).filter((v) => !set.has(v));
    if (missing.length > 0) errors[key] = [`No such ${noun}(s): ${missing.join(', ')}.`];
  }
}

export function listMachines(st: StandinState, req: ParsedRequest): Reply {
  const q = req.query;
  const errors: Record<string, string[]> = {};
  for (const k of q.keys()) if (!LIST_KEYS.has(k) && k !== 'op') errors[k] = ['No such constraint.'];
  for (const key of ['status', 'not_status']) {
    for (const v of q.getAll(key)) {
      if (!(v in STATUS_FILTER)) errors[key] = [`Select a valid choice. ${v} is not one of the available choices.`];
    }
  }
  validateNames(st, q, errors);
  if (Object.keys(errors).length > 0) return fieldErrors(errors);
  const matchAny = (key: string, value: string | null): boolean => {
    const vs = q.getAll(key);
    return vs.length === 0 || (value !== null && vs.includes(value));
  };
  const none = (key: string, value: string | null): boolean => value === null || !q.getAll(key).includes(value);
  const wantTags = tagList(q.getAll('tags'));
  const notTags = tagList(q.getAll('not_tags'));
  const statuses = q.getAll('status').map((v) => STATUS_FILTER[v]!);
  const notStatuses = q.getAll('not_status').map((v) => STATUS_FILTER[v]!);
  const macs = q.getAll('mac_address').map(norm);
  const out = [...st.machines.values()]
    .filter(
      (m) =>
        matchAny('id', m.system_id) &&
        none('not_id', m.system_id) &&
        matchAny('hostname', m.hostname) &&
        none('not_hostname', m.hostname) &&
        (macs.length === 0 || macs.includes(m.mac)) &&
        matchAny('agent_name', m.agent_name) &&
        none('not_agent_name', m.agent_name) &&
        (statuses.length === 0 || statuses.includes(m.status)) &&
        !notStatuses.includes(m.status) &&
        wantTags.every((t) => m.tags.has(t)) &&
        !notTags.some((t) => m.tags.has(t)) &&
        matchAny('zone', m.zone) &&
        none('not_in_zone', m.zone) &&
        matchAny('pool', m.pool) &&
        none('not_in_pool', m.pool) &&
        matchAny('owner', m.owner) &&
        matchAny('arch', m.architecture) &&
        matchAny('domain', m.domain),
    )
    .sort((a, b) => a.id - b.id);
  return json(out.map((m) => st.renderMachine(m)));
}

// ---- allocate (AcquireNodeForm) -------------------------------------------------------------

const ALLOCATE_CONSTRAINTS = ['name', 'system_id', 'arch', 'cpu_count', 'mem', 'tags', 'not_tags', 'zone', 'not_in_zone', 'pool', 'not_in_pool'];
/** IGNORED_FIELDS and the allocation options read separately by the handler. */
const ALLOCATE_IGNORED = new Set([
  'op',
  'agent_name',
  'comment',
  'bridge_all',
  'bridge_type',
  'bridge_stp',
  'bridge_fd',
  'dry_run',
  'verbose',
  'install_kvm',
  'install_rackd',
  'register_vmhost',
  'ephemeral_deploy',
  'enable_hw_sync',
]);

export function allocate(st: StandinState, req: ParsedRequest): Reply {
  const user = req.user!;
  const d = req.data;
  const errors: Record<string, string[]> = {};
  for (const k of d.keys()) if (!ALLOCATE_CONSTRAINTS.includes(k) && !ALLOCATE_IGNORED.has(k)) errors[k] = ['No such constraint.'];
  validateNames(st, d, errors);
  if (Object.keys(errors).length > 0) return fieldErrors(errors);
  const wantTags = tagList(d.getAll('tags'));
  const notTags = tagList(d.getAll('not_tags'));
  const names = d.getAll('name');
  const ids = d.getAll('system_id');
  const cpu = d.get('cpu_count');
  const mem = d.get('mem');
  const candidates = [...st.machines.values()]
    .filter(
      (m) =>
        m.status === S.READY &&
        m.owner === null &&
        !m.locked &&
        (ids.length === 0 || ids.includes(m.system_id)) &&
        (names.length === 0 || names.includes(m.hostname) || names.includes(`${m.hostname}.${m.domain}`)) &&
        (d.getAll('arch').length === 0 || d.getAll('arch').some((a) => m.architecture === a || m.architecture.startsWith(`${a}/`))) &&
        (cpu === undefined || m.cpu_count >= Number(cpu)) &&
        (mem === undefined || m.memory >= Number(mem)) &&
        wantTags.every((t) => m.tags.has(t)) &&
        !notTags.some((t) => m.tags.has(t)) &&
        (d.getAll('zone').length === 0 || d.getAll('zone').includes(m.zone)) &&
        !d.getAll('not_in_zone').includes(m.zone) &&
        (d.getAll('pool').length === 0 || d.getAll('pool').includes(m.pool)) &&
        !d.getAll('not_in_pool').includes(m.pool),
    )
    .sort((a, b) => a.id - b.id);
  const machine = candidates[0];
  if (machine === undefined) {
    const constraints = d
      .lists()
      .filter(([k]) => ALLOCATE_CONSTRAINTS.includes(k))
      .map(([k, v]) => `${k}=${v.join(',')}`)
      .join(' ');
    const input = '[' + d.lists().filter(([k]) => k !== 'op').map(([k, v]) => `('${k}', ${pyList(v)})`).join(', ') + ']';
    const systemId = req.POST.get('system_id');
    const msg =
      constraints === ''
        ? 'No machine available.'
        : systemId !== undefined
          ? `No machine with system ID ${systemId} available.`
          : `No available machine matches constraints: ${input} (resolved to "${constraints}")`;
    return conflict(msg);
  }
  const dry = stringBool(req.POST.get('dry_run'), false) === true;
  if (!dry) st.acquire(machine, user.username, d.get('agent_name') ?? '', req.POST.get('comment') ?? '');
  return json(st.renderMachine(machine));
}

// ---- per-machine operations -----------------------------------------------------------------

/** Distro series MAAS would accept for deployment, in the form its validation error lists them. */
function validSeries(st: StandinState): string[] {
  return ['', ...st.ubuntuSeries.map((s) => `ubuntu/${s}`), ...st.customImages().map((n) => `custom/${n}`)];
}

function resolveSeries(st: StandinState, series: string): { osystem: string; distro_series: string } | null {
  const [a, b] = series.includes('/') ? (series.split('/', 2) as [string, string]) : [undefined, series];
  if (a === undefined || a === 'ubuntu') {
    if (st.ubuntuSeries.includes(b)) return { osystem: 'ubuntu', distro_series: b };
  }
  if (a === undefined || a === 'custom') {
    if (st.customImages().includes(b)) return { osystem: 'custom', distro_series: b };
  }
  return null;
}

const deploy: Op = (st, req, m) => {
  const user = req.user!;
  // machines.py deploy reads request.POST only: a JSON body leaves every option at its default.
  const P = req.POST;
  if (!canEdit(user, m)) return forbidden();
  if (m.status === S.READY) {
    if (m.owner !== null && m.owner !== user.username) return conflict("Can't allocate a machine belonging to another user.");
    st.acquire(m, user.username, P.get('agent_name') ?? '', P.get('comment') ?? '');
  }
  if (m.status !== S.ALLOCATED) return conflict(`Can't deploy a machine that is in the '${STATUS_NAME[m.status]}' state`);
  const series = P.get('distro_series') || st.defaultDistroSeries;
  const resolved = resolveSeries(st, series);
  if (resolved === null) {
    return fieldErrors({
      distro_series: [`'${series}' is not a valid distro_series.  It should be one of: ${validSeries(st).map((s) => `'${s}'`).join(', ')}.`],
    });
  }
  m.osystem = resolved.osystem;
  m.distro_series = resolved.distro_series;
  m.hwe_kernel = P.get('hwe_kernel') ?? null;
  m.ephemeral_deploy = stringBool(P.get('ephemeral_deploy'), false) === true;
  if (P.has('agent_name')) m.agent_name = P.get('agent_name')!;
  // deploy finishes with self.power_on(request, system_id): user_data is stored there.
  const ud = P.get('user_data');
  m.userDataRaw = ud ?? null;
  st.startDeployment(m, user.username, P.get('comment') ?? '');
  return json(st.renderMachine(m));
};

const release: Op = (st, req, m) => {
  const user = req.user!;
  if (!canEdit(user, m)) return forbidden();
  // ReleaseForm(data=request.data): JSON works here.
  const d = req.data;
  if (m.status === S.RELEASING || m.status === S.READY) return json(st.renderMachine(m));
  if (!RELEASABLE.has(m.status)) return conflict(`Machine cannot be released in its current state ('${STATUS_NAME[m.status]}').`);
  const erase = stringBool(d.get('erase'), false) === true;
  st.startReleasing(m, user.username, d.get('comment') ?? '', erase);
  return json(st.renderMachine(m));
};

const abort: Op = (st, req, m) => {
  const user = req.user!;
  if (!canEdit(user, m)) return forbidden();
  const comment = req.POST.get('comment') ?? '';
  switch (m.status) {
    case S.DEPLOYING:
      st.cancelPending(m);
      st.event(m, LEVEL.DEBUG, 'User aborting deployment', comment, user.username);
      m.power_state = 'off';
      st.event(m, LEVEL.INFO, 'Aborted deployment');
      st.setStatus(m, S.ALLOCATED);
      return json(st.renderMachine(m));
    case S.DISK_ERASING:
      st.cancelPending(m);
      st.event(m, LEVEL.DEBUG, 'User aborting disk erase', comment, user.username);
      st.event(m, LEVEL.INFO, 'Aborted disk erasing');
      st.setStatus(m, S.FAILED_DISK_ERASING);
      return json(st.renderMachine(m));
    case S.COMMISSIONING:
      st.cancelPending(m);
      st.event(m, LEVEL.DEBUG, 'User aborting node commissioning', comment, user.username);
      st.event(m, LEVEL.INFO, 'Aborted commissioning');
      st.setStatus(m, S.NEW);
      return json(st.renderMachine(m));
    case S.TESTING:
      st.cancelPending(m);
      st.event(m, LEVEL.DEBUG, 'User aborting node testing', comment, user.username);
      st.event(m, LEVEL.INFO, 'Aborted testing');
      st.setStatus(m, m.previousStatus);
      return json(st.renderMachine(m));
    default:
      return conflict(`Cannot abort in current state: node ${m.system_id} is in state ${STATUS_NAME[m.status]}.`);
  }
};

const markBroken: Op = (st, req, m) => {
  const user = req.user!;
  if (!canEdit(user, m)) return forbidden();
  // "if node.owner_id != request.user.id: raise MAASAPIForbidden()"
  if (m.owner !== user.username) return forbidden();
  const comment = req.POST.get('comment') || req.POST.get('error_description') || '';
  st.event(m, LEVEL.DEBUG, 'User marking node broken', comment, user.username);
  st.cancelPending(m);
  if (m.status === S.DEPLOYING || m.status === S.DEPLOYED) m.power_state = 'off';
  st.setStatus(m, S.BROKEN);
  m.error_description = comment;
  return json(st.renderMachine(m));
};

const markFixed: Op = (st, req, m) => {
  const user = req.user!;
  if (!user.isAdmin) return forbidden();
  const comment = req.POST.get('comment') ?? '';
  st.event(m, LEVEL.DEBUG, 'User marking node fixed', comment, user.username);
  if (m.status !== S.BROKEN) return conflict("Can't mark a non-broken node as 'Ready'.");
  const to = m.previousStatus === S.DEPLOYED ? S.DEPLOYED : S.READY;
  st.setStatus(m, to);
  m.error_description = '';
  if (to === S.READY) st.clearOwnership(m);
  return json(st.renderMachine(m));
};

/** NodePermission.lock: the owner or an admin (locking is allowed on a locked machine's owner, unlike edit). */
const canLock = (user: StandinUser, m: StandinMachine): boolean => user.isAdmin || m.owner === user.username;

const lock: Op = (st, req, m) => {
  const user = req.user!;
  if (!canLock(user, m)) return forbidden();
  if (m.locked) return conflict('Machine is already locked');
  st.event(m, LEVEL.DEBUG, 'User locking node', req.POST.get('comment') ?? '', user.username);
  if (m.status !== S.DEPLOYED && m.status !== S.DEPLOYING) return conflict("Can't lock, node is not deployed or deploying");
  m.locked = true;
  return json(st.renderMachine(m));
};

const unlock: Op = (st, req, m) => {
  const user = req.user!;
  if (!canLock(user, m)) return forbidden();
  if (!m.locked) return conflict('Machine is not locked');
  st.event(m, LEVEL.DEBUG, 'User unlocking node', req.POST.get('comment') ?? '', user.username);
  m.locked = false;
  return json(st.renderMachine(m));
};

const powerOn: Op = (st, req, m) => {
  const user = req.user!;
  const P = req.POST;
  if (!canEdit(user, m)) return forbidden();
  if (m.owner === null) return conflict("Can't start node: it hasn't been allocated.");
  st.event(m, LEVEL.DEBUG, 'User powering up node', P.get('comment') ?? '', user.username);
  if (P.has('user_data')) m.userDataRaw = P.get('user_data')!;
  m.power_state = 'on';
  st.event(m, LEVEL.DEBUG, 'Node powered on');
  return json(st.renderMachine(m));
};

const powerOff: Op = (st, req, m) => {
  const user = req.user!;
  if (!canEdit(user, m)) return forbidden();
  st.event(m, LEVEL.DEBUG, 'User powering down node', req.POST.get('comment') ?? '', user.username);
  // node.stop() returns False when MAAS cannot act (manual power): the handler returns None -> null.
  if (m.power_type === 'manual') return json(null);
  m.power_state = 'off';
  st.event(m, LEVEL.DEBUG, 'Node powered off');
  return json(st.renderMachine(m));
};

const queryPowerState: Op = (_st, _req, m) => json({ state: m.power_state });

const powerParameters: Op = (_st, req, m) => (req.user!.isAdmin ? json(m.power_parameters) : forbidden());

const read: Op = (st, _req, m) => json(st.renderMachine(m));

/** PUT /machines/{id}/ (admin): hostname, power_type and power_parameters_<field>. */
const update: Op = (st, req, m) => {
  if (!req.user!.isAdmin) return forbidden();
  const d = req.data;
  if (d.has('hostname')) m.hostname = d.get('hostname')!;
  if (d.has('power_type')) m.power_type = d.get('power_type')!;
  for (const [k, v] of d.lists()) if (k.startsWith('power_parameters_') && k !== 'power_parameters_skip_check') m.power_parameters[k.slice(17)] = v[v.length - 1]!;
  return json(st.renderMachine(m));
};

export const MACHINE_EXPORTS: Record<string, Op> = {
  'GET ': read,
  'PUT ': update,
  'GET query_power_state': queryPowerState,
  'GET power_parameters': powerParameters,
  'POST deploy': deploy,
  'POST release': release,
  'POST abort': abort,
  'POST mark_broken': markBroken,
  'POST mark_fixed': markFixed,
  'POST lock': lock,
  'POST unlock': unlock,
  'POST power_on': powerOn,
  'POST power_off': powerOff,
};

export function withMachine(st: StandinState, systemId: string, op: Op): (req: ParsedRequest) => Reply {
  return (req) => {
    const m = st.machines.get(systemId);
    if (m === undefined) return notFound('Machine');
    return op(st, req, m);
  };
}

export const MACHINES_EXPORTS: Record<string, (st: StandinState, req: ParsedRequest) => Reply> = {
  'GET ': listMachines,
  'POST allocate': allocate,
  'GET power_parameters': (st, req) => {
    if (!req.user!.isAdmin) return forbidden();
    const ids = req.query.getAll('id');
    const out: Record<string, Record<string, string>> = {};
    for (const m of st.machines.values()) if (ids.length === 0 || ids.includes(m.system_id)) out[m.system_id] = m.power_parameters;
    return json(out);
  },
};

