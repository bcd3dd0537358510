// The rackboot dashboard: fleet, machine timeline and cluster formation, kept live by the event stream.
import { allClusters, allMachines, api, ApiError, follow, login, logout, whoami } from './api.js';
import { age, clock, h, replace } from './dom.js';

/** The lifecycle, in order, as the server lists it (server/lifecycle/states.ts). */
const STATES = (document.querySelector('meta[name="rackboot-states"]')?.getAttribute('content') ?? '').split(',').filter(Boolean);
const PIPELINE = STATES.filter((s) => s !== 'failed');
const IDLE = new Set(['discovered', 'ready']);

const view = /** @type {HTMLElement} */ (document.getElementById('view'));
const liveBadge = /** @type {HTMLElement} */ (document.getElementById('live'));

/** @type {Map<string, any>} machines by id */
const machines = new Map();
/** @type {{ name: string, id?: string, events?: any[], source?: string }} */
let page = { name: 'fleet' };
let groupBy = 'rack';
let filter = '';
let stopFollowing = null;
/** The signed-in token's role: only an admin is offered the actions that change things. */
let role = 'viewer';

// ---------- helpers shared by the views ----------

function stateBadge(state) {
  const cls = state === 'failed' ? 'failed' : state === PIPELINE[PIPELINE.length - 1] ? 'done' : IDLE.has(state) ? '' : 'run';
  return h('span', { class: `state ${cls}`, 'data-state': state }, state);
}

/** @type {Map<string, any>} live progress of long steps (`event: progress`), by `subject:id` */
const progress = new Map();

/** A transfer of the machine's current state: the running one, or its last one finished in this state. */
function transferOf(m) {
  const p = progress.get(`machine:${m.id}`);
  if (p === undefined) return null;
  return p.transfers.find((t) => t.status === 'running') ?? p.transfers.find((t) => Date.parse(t.updatedAt) >= Date.parse(m.stateEnteredAt)) ?? null;
}

function mib(n) {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** A download or upload bar; Range reads (a BMC mounting an ISO) count bytes read at least once. */
function transferBar(t) {
  const pct = t.total > 0 ? Math.floor((t.done / t.total) * 100) : 100;
  const bar = h('span', { class: `bar transfer-bar${t.status === 'failed' ? ' failed' : ''}` }, h('span', null));
  /** @type {HTMLElement} */ (bar.firstChild).style.width = `${pct}%`;
  const title = `${mib(t.done)} of ${mib(t.total)}${t.measure === 'distinct' ? ' read at least once' : ''}${t.status === 'running' && t.bytesPerSecond ? `, ${mib(t.bytesPerSecond)}/s` : ''}${t.attempt > 1 ? `, attempt ${t.attempt}` : ''}`;
  return h('span', { class: 'transfer', title, 'data-status': t.status }, bar, ` ${t.direction === 'upload' ? 'upload ' : ''}${t.label} ${pct}%${t.status === 'running' ? '' : ` ${t.status}`}`);
}

/** The cluster's content upload: the running attempt, or the newest one. */
function clusterUpload(c) {
  const p = progress.get(`cluster:${c.id}`);
  if (p === undefined || p.transfers.length === 0) return null;
  return transferBar(p.transfers.find((t) => t.status === 'running') ?? p.transfers[0]);
}

function progressBar(m) {
  const t = typeof m.id === 'string' ? transferOf(m) : null;
  if (t !== null) return transferBar(t);
  const i = PIPELINE.indexOf(m.state);
  const pct = m.state === 'failed' ? 100 : i < 0 ? 0 : Math.round((i / (PIPELINE.length - 1)) * 100);
  const bar = h('span', { class: `bar${m.state === 'failed' ? ' failed' : ''}`, title: `${pct}% of the lifecycle` }, h('span', null));
  /** @type {HTMLElement} */ (bar.firstChild).style.width = `${pct}%`;
  return bar;
}

/** The name of the cluster a machine is a member of, if any. */
function clusterOf(m) {
  return membership.get(m.id) ?? null;
}

function ageCell(since) {
  return h('td', { class: 'age', 'data-since': since, title: clock(since) }, age(since));
}

// ---------- fleet ----------

function fleetGroups() {
  const shown = [...machines.values()].filter((m) => filter === '' || m.name.toLowerCase().includes(filter.toLowerCase()));
  const keyOf = (m) => (groupBy === 'cluster' ? clusterOf(m) : groupBy === 'state' ? m.state : m.rack) ?? '';
  const groups = new Map();
  for (const m of shown.sort((a, b) => a.name.localeCompare(b.name))) {
    const k = keyOf(m);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(m);
  }
  const keys = [...groups.keys()].sort((a, b) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)));
  return fleetRows(groups, keys);
}

function renderFleet() {
  const typing = document.activeElement?.id === 'filter';
  const counts = new Map();
  for (const m of machines.values()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
  const select = h(
    'select',
    { id: 'group-by', onchange: (e) => ((groupBy = e.target.value), renderFleet()) },
    ['rack', 'cluster', 'state'].map((g) => h('option', { value: g, selected: g === groupBy }, g)),
  );
  const search = /** @type {HTMLInputElement} */ (h('input', { id: 'filter', type: 'search', placeholder: 'filter by name', value: filter }));
  search.addEventListener('input', () => {
    filter = search.value;
    const body = document.getElementById('fleet-body');
    if (body) replace(body, fleetGroups());
  });
  replace(
    view,
    h('h1', null, 'Fleet ', h('span', { class: 'muted' }, `(${machines.size} machines)`)),
    h('div', { class: 'summary', id: 'summary' }, STATES.filter((s) => counts.has(s)).map((s) => h('span', null, stateBadge(s), ` ${counts.get(s)}`))),
    h('div', { class: 'toolbar' }, h('label', null, 'Group by ', select), search),
    machines.size === 0
      ? h('div', { class: 'empty', id: 'fleet-empty' }, 'No machines yet. Import an inventory with `rackboot machines import FILE`, or let DHCP discover them.')
      : h(
          'table',
          { id: 'fleet' },
          h('thead', null, h('tr', null, ['Name', 'State', 'In state for', 'Progress', 'Role', 'MACs', 'BMC', 'Reason'].map((t) => h('th', null, t)))),
          h('tbody', { id: 'fleet-body' }, fleetGroups()),
        ),
  );
  // A live update must not take the filter box away from someone typing in it.
  if (typing) search.focus();
}

function fleetRows(groups, keys) {
  const rows = [];
  for (const k of keys) {
    const ms = groups.get(k);
    const label = k === '' ? `(no ${groupBy})` : `${groupBy} ${k}`;
    rows.push(h('tr', { class: 'group', 'data-group': k }, h('td', { colspan: 8 }, `${label} · ${ms.length}`)));
    for (const m of ms) {
      rows.push(
        h(
          'tr',
          { class: 'machine', 'data-machine': m.name, onclick: () => (location.hash = `#/machines/${m.id}`) },
          h('td', null, h('a', { href: `#/machines/${m.id}` }, m.name)),
          h('td', null, stateBadge(m.state)),
          ageCell(m.stateEnteredAt),
          h('td', null, progressBar(m)),
          h('td', null, m.role ?? ''),
          h('td', { class: 'mono' }, (m.macs ?? []).join(' ')),
          h('td', { class: 'mono' }, m.bmc ? `${m.bmc.address}${m.bmc.vendor ? ` (${m.bmc.vendor})` : ''}` : m.maas ? `MAAS ${m.maas.systemId}` : ''),
          h('td', { class: 'reason' }, m.stateReason ?? ''),
        ),
      );
    }
  }
  return rows;
}

// ---------- one machine ----------

async function showMachine(id) {
  page = { name: 'machine', id, events: [], source: '' };
  let m;
  try {
    m = await api(`/api/v1/machines/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return replace(view, h('div', { class: 'empty' }, 'No such machine (it may have been deleted).'));
    throw e;
  }
  machines.set(m.id, m);
  const events = [];
  for (let after = 0; ; ) {
    const r = await api(`/api/v1/machines/${encodeURIComponent(id)}/events?after=${after}&limit=5000`);
    events.push(...r.items);
    if (r.items.length === 0 || r.next === after) break;
    after = r.next;
  }
  if (page.name !== 'machine' || page.id !== id) return;
  page.events = events;
  renderMachine();
}

function renderMachine() {
  const m = machines.get(page.id);
  if (m === undefined) return replace(view, h('div', { class: 'empty' }, 'This machine was deleted.'));
  const reached = PIPELINE.indexOf(m.state);
  const steps = h(
    'ol',
    { class: 'steps', id: 'steps' },
    PIPELINE.map((s, i) => h('li', { class: s === m.state ? 'current' : i < reached ? 'past' : '' }, s)),
    m.state === 'failed' ? h('li', { class: 'current failed' }, 'failed') : null,
  );
  const facts = [
    ['State', stateBadge(m.state)],
    ['In state for', h('span', { class: 'age', 'data-since': m.stateEnteredAt }, age(m.stateEnteredAt))],
    ['Time limit', stageLimit(m)],
    ['Transfer', transferOf(m) && transferBar(transferOf(m))],
    ['Reason', m.stateReason],
    ['Failed in', m.failedFrom],
    ['ID', h('span', { class: 'mono' }, m.id)],
    ['MACs', h('span', { class: 'mono' }, (m.macs ?? []).join(', '))],
    ['Rack', m.rack],
    ['Cluster', clusterOf(m)],
    ['Role', m.role],
    ['Profile', m.profile],
    ['Firmware', m.firmware && `${m.firmware}${m.arch ? ` / ${m.arch}` : ''}`],
    ['BMC', m.bmc && `${m.bmc.address}${m.bmc.vendor ? ` (${m.bmc.vendor})` : ''}`],
    ['MAAS', m.maas && m.maas.systemId],
    ['Tags', (m.tags ?? []).join(', ')],
  ].filter(([, v]) => v !== null && v !== undefined && v !== '');
  const sources = [...new Set(page.events.map((e) => e.source))].sort();
  const sourceSelect = h(
    'select',
    { id: 'source', onchange: (e) => ((page.source = e.target.value), renderMachine()) },
    h('option', { value: '' }, 'all sources'),
    sources.map((s) => h('option', { value: s, selected: s === page.source }, s)),
  );
  const shown = page.events.filter((e) => page.source === '' || e.source === page.source);
  replace(
    view,
    h('p', null, h('a', { href: '#/' }, '← Fleet')),
    h('h1', { id: 'machine-name' }, m.name, ' ', stateBadge(m.state)),
    steps,
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    h('h2', null, 'Boot timeline ', h('span', { class: 'muted' }, `(${page.events.length} events)`)),
    h('div', { class: 'toolbar' }, h('label', null, 'Source ', sourceSelect)),
    shown.length === 0
      ? h('div', { class: 'empty' }, 'Nothing recorded yet: events appear here as the machine boots.')
      : h(
          'table',
          { id: 'timeline' },
          h('thead', null, h('tr', null, ['Time', 'Source', 'Step', 'Message'].map((t) => h('th', null, t)))),
          h('tbody', null, shown.map(timelineRow)),
        ),
  );
}

function timelineRow(e) {
  return h(
    'tr',
    { class: `outcome-${e.outcome}`, 'data-event': e.id },
    h('td', { class: 'mono' }, clock(e.ts)),
    h('td', null, h('span', { class: 'src' }, e.source)),
    h('td', { class: 'mono' }, e.kind),
    h('td', { class: 'message' }, e.message),
  );
}

// ---------- clusters ----------

/** Cluster names by member machine id, for grouping the fleet; refreshed whenever clusters are read. */
const membership = new Map();

function noteMembership(clusters) {
  membership.clear();
  for (const c of clusters) for (const mem of c.members) membership.set(mem.machineId, c.name);
}

/** The formation step under way (or the last one finished), as "step (machine)". */
function formationStep(c) {
  if (c.steps.length === 0) return c.state === 'forming' ? 'starting' : null;
  const byTime = [...c.steps].sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
  const running = byTime.filter((s) => s.status === 'started');
  const s = running.length > 0 ? running[running.length - 1] : byTime[byTime.length - 1];
  const who = s.machineId === '' ? null : (c.members.find((mem) => mem.machineId === s.machineId)?.name ?? s.machineId);
  return `${s.step}${who ? ` (${who})` : ''}${s.status === 'done' ? ', done' : ''}`;
}

function clusterState(state) {
  const cls = state === 'failed' ? 'failed' : state === 'enrolled' ? 'done' : 'run';
  return h('span', { class: `state ${cls}`, 'data-state': state }, state);
}

async function showClusters() {
  page = { name: 'clusters' };
  const clusters = await allClusters();
  if (page.name !== 'clusters') return;
  noteMembership(clusters);
  if (clusters.length === 0) {
    return replace(view, h('h1', null, 'Clusters'), h('div', { class: 'empty', id: 'clusters-empty' }, 'No clusters yet: define one with POST /api/v1/clusters once its machines are installed.'));
  }
  replace(view, h('h1', null, 'Clusters'), clusters.map((c) => clusterCard(c, true)));
}

async function showCluster(id) {
  page = { name: 'cluster', id };
  let c;
  try {
    c = await api(`/api/v1/clusters/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return replace(view, h('div', { class: 'empty' }, 'No such cluster.'));
    throw e;
  }
  const events = [];
  for (let after = 0; ; ) {
    const r = await api(`/api/v1/clusters/${encodeURIComponent(id)}/events?after=${after}&limit=5000`);
    events.push(...r.items);
    if (r.items.length === 0 || r.next === after) break;
    after = r.next;
  }
  if (page.name !== 'cluster' || page.id !== id) return;
  replace(
    view,
    h('p', null, h('a', { href: '#/clusters' }, '← Clusters')),
    clusterCard(c, false),
    h('h2', null, 'Formation timeline ', h('span', { class: 'muted' }, `(${events.length} events)`)),
    events.length === 0
      ? h('div', { class: 'empty' }, 'Nothing recorded yet: events appear here as the cluster forms.')
      : h(
          'table',
          { id: 'cluster-timeline' },
          h('thead', null, h('tr', null, ['Time', 'Step', 'Message'].map((t) => h('th', null, t)))),
          h(
            'tbody',
            null,
            events.map((e) => h('tr', { class: `outcome-${e.outcome}`, 'data-event': e.id }, h('td', { class: 'mono' }, clock(e.ts)), h('td', { class: 'mono' }, e.kind), h('td', { class: 'message' }, e.message))),
          ),
        ),
  );
}

function clusterCard(c, linked) {
  // Member states come from the live machine list when it has them, so SSE updates show at once.
  const members = c.members.map((mem) => ({ ...mem, ...(machines.get(mem.machineId) ?? {}), role: mem.role, id: mem.machineId }));
  const enrolled = members.filter((m) => m.state === 'enrolled').length;
  const step = formationStep(c);
  return h(
    'section',
    { class: 'cluster', 'data-cluster': c.name },
    h('h2', null, linked ? h('a', { href: `#/clusters/${c.id}` }, c.name) : c.name, ' ', clusterState(c.state), ' ', h('span', { class: 'muted' }, `${enrolled} of ${members.length} members enrolled`)),
    h(
      'dl',
      { class: 'facts' },
      [
        ['Formation step', step && h('span', { class: 'mono formation-step' }, step)],
        ['Content upload', clusterUpload(c)],
        ['Reason', c.stateReason],
        ['In state for', h('span', { class: 'age', 'data-since': c.stateEnteredAt }, age(c.stateEnteredAt))],
        ['VIP', c.spec?.vip && h('span', { class: 'mono' }, c.spec.vip)],
        ['ID', h('span', { class: 'mono' }, c.id)],
      ]
        .filter(([, v]) => v !== null && v !== undefined && v !== '')
        .map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
    ),
    c.state === 'failed' && role === 'admin' ? clusterActions(c) : null,
    h(
      'table',
      { class: 'members' },
      h('thead', null, h('tr', null, ['Member', 'Role', 'State', 'Progress'].map((t) => h('th', null, t)))),
      h(
        'tbody',
        null,
        members.map((m) =>
          h(
            'tr',
            { 'data-member': m.name ?? m.id },
            h('td', null, h('a', { href: `#/machines/${m.id}` }, m.name ?? m.id)),
            h('td', null, m.role),
            h('td', null, stateBadge(m.state ?? '?')),
            h('td', null, progressBar(m)),
          ),
        ),
      ),
    ),
  );
}

/** A failed cluster: form it again once mended, or forget it. The event stream shows what follows. */
function clusterActions(c) {
  const note = h('span', { class: 'error action-error' });
  const act = (label, cls, run) =>
    h('button', {
      type: 'button',
      class: cls,
      onclick: async (/** @type {Event} */ ev) => {
        const b = /** @type {HTMLButtonElement} */ (ev.currentTarget);
        b.disabled = true;
        try {
          await run();
        } catch (e) {
          b.disabled = false;
          note.textContent = e instanceof Error ? e.message : String(e);
        }
      },
    }, label);
  const id = encodeURIComponent(c.id);
  return h(
    'div',
    { class: 'actions' },
    act('Retry formation', 'retry-cluster', () => api(`/api/v1/clusters/${id}/retry`, { method: 'POST' })),
    act('Delete cluster', 'delete-cluster', async () => {
      if (!confirm(`Forget cluster ${c.name}? Its installed members become free to join another cluster.`)) return;
      await api(`/api/v1/clusters/${id}`, { method: 'DELETE' });
      location.hash = '#/clusters';
    }),
    note,
  );
}

// ---------- routing, live updates, sign-in ----------

async function route() {
  const hash = location.hash || '#/';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', (a.getAttribute('data-nav') === 'clusters') === hash.startsWith('#/clusters'));
  const mm = /^#\/machines\/([0-9a-f-]{36})$/.exec(hash);
  try {
    const cm = /^#\/clusters\/([0-9a-f-]{36})$/.exec(hash);
    if (mm) await showMachine(mm[1]);
    else if (cm) await showCluster(cm[1]);
    else if (hash.startsWith('#/clusters')) await showClusters();
    else {
      page = { name: 'fleet' };
      renderFleet();
    }
  } catch (e) {
    failed(e);
  }
}

function failed(e) {
  if (e instanceof ApiError && e.status === 401) return signIn();
  replace(view, h('div', { class: 'empty error' }, `Could not load: ${e instanceof Error ? e.message : String(e)}`));
}

const pending = new Set();
let flushScheduled = false;

/** Re-reads changed machines at most once per animation frame, however many events arrive. */
function refresh(id) {
  pending.add(id);
  if (flushScheduled) return;
  flushScheduled = true;
  setTimeout(async () => {
    flushScheduled = false;
    const ids = [...pending];
    pending.clear();
    for (const mid of ids) {
      try {
        machines.set(mid, await api(`/api/v1/machines/${encodeURIComponent(mid)}`));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) machines.delete(mid);
        else if (e instanceof ApiError && e.status === 401) return signIn();
      }
    }
    rerender();
  }, 50);
}

function rerender() {
  if (page.name === 'fleet') renderFleet();
  else if (page.name === 'machine') renderMachine();
  else if (page.name === 'clusters') void showClusters().catch(failed);
  else if (page.name === 'cluster') void showCluster(page.id).catch(failed);
}

/** An install stage reports no bytes: its step on the ladder and the time it may take. */
function stageLimit(m) {
  const s = progress.get(`machine:${m.id}`)?.stage;
  if (!s || s.state !== m.state || s.timeoutSeconds === null) return null;
  return `step ${s.step} of ${s.steps}; failed after ${Math.round(s.timeoutSeconds / 60)} min in this state`;
}

function onLive(kind, data) {
  if (data === null || typeof data !== 'object') return;
  if (kind === 'progress') {
    if (typeof data.subject !== 'string' || typeof data.id !== 'string' || !Array.isArray(data.transfers)) return;
    const key = `${data.subject}:${data.id}`;
    if (data.transfers.length === 0 && !data.stage) progress.delete(key);
    else progress.set(key, data);
    if (data.subject === 'machine' && (page.name === 'fleet' || (page.name === 'machine' && page.id === data.id))) rerender();
    if (data.subject === 'cluster' && (page.name === 'clusters' || (page.name === 'cluster' && page.id === data.id))) rerender();
    return;
  }
  if (kind === 'cluster' || typeof data.clusterId === 'string' || data.cluster !== undefined || (typeof data.kind === 'string' && data.kind.startsWith('cluster.'))) {
    if (page.name === 'clusters') void showClusters().catch(failed);
    else if (page.name === 'cluster' && (page.id === data.clusterId || page.id === data.id)) void showCluster(page.id).catch(failed);
  }
  const machine = data.machine && typeof data.machine === 'object' ? data.machine : null;
  const id = machine?.id ?? data.machineId ?? null;
  if (typeof id !== 'string') return;
  if (page.name === 'machine' && page.id === id && typeof data.message === 'string' && !page.events.some((e) => e.id === data.id)) {
    page.events.push(data);
  }
  refresh(id);
}

function setLive(status) {
  liveBadge.textContent = status === 'live' ? 'live' : status;
  liveBadge.classList.toggle('on', status === 'live');
  if (status === 'closed') {
    // A closed stream means the server refused it (usually an expired session): check, then reconnect.
    whoami().then(
      () => setTimeout(startFollowing, 3000),
      (e) => (e instanceof ApiError && e.status === 401 ? signIn() : setTimeout(startFollowing, 3000)),
    );
  }
}

function startFollowing() {
  stopFollowing?.();
  stopFollowing = follow(onLive, setLive);
}

function signIn() {
  stopFollowing?.();
  stopFollowing = null;
  const dlg = /** @type {HTMLDialogElement} */ (document.getElementById('login'));
  if (!dlg.open) dlg.showModal();
}

async function start() {
  let me;
  try {
    me = await whoami();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signIn();
    return failed(e);
  }
  role = me.role;
  replace(/** @type {HTMLElement} */ (document.getElementById('who')), `${me.name} (${me.role})`);
  /** @type {HTMLElement} */ (document.getElementById('logout')).hidden = false;
  machines.clear();
  for (const m of await allMachines()) machines.set(m.id, m);
  noteMembership(await allClusters());
  startFollowing();
  await route();
}

document.getElementById('login-form')?.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ (document.getElementById('login-token'));
  const err = /** @type {HTMLElement} */ (document.getElementById('login-error'));
  try {
    await login(input.value.trim());
    input.value = '';
    err.textContent = '';
    /** @type {HTMLDialogElement} */ (document.getElementById('login')).close();
    await start();
  } catch (e) {
    err.textContent = e instanceof ApiError && e.status === 401 ? 'That token is unknown or revoked.' : `Sign-in failed: ${e.message}`;
  }
});

document.getElementById('logout')?.addEventListener('click', async () => {
  await logout().catch(() => undefined);
  location.reload();
});

window.addEventListener('hashchange', () => void route());

// Ages tick without re-reading anything.
setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = age(el.getAttribute('data-since'), now);
}, 1000);

void start().catch(failed);
