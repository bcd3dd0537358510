// Events (canonical/maas src/maasserver/api/events.py EventsHandler.query) and tags
// (src/maasserver/api/tags.py TagHandler.update_nodes).

import { badRequest, conflict, fieldErrors, forbidden, json, notFound, type ParsedRequest, type Reply } from './http.js';
import { LEVEL, LEVEL_NAME, maasEventTime, type StandinEvent, type StandinState } from './state.js';

export const MAX_EVENT_LOG_COUNT = 1000;
export const DEFAULT_EVENT_LOG_LIMIT = 100;
/** EventsHandler.all_params: what survives into next_uri / prev_uri. */
const ALL_PARAMS = new Set(['agent_name', 'domain', 'hostname', 'id', 'level', 'limit', 'mac_address', 'op', 'zone', 'owner']);

function optionalInt(v: string | undefined): number | undefined | 'invalid' {
  if (v === undefined) return undefined;
  return /^\s*-?\d+\s*$/.test(v) ? Number(v) : 'invalid';
}

function eventToDict(e: StandinEvent): Record<string, unknown> {
  return {
    username: e.username,
    node: e.systemId,
    hostname: e.hostname,
    id: e.id,
    level: LEVEL_NAME[e.level] ?? String(e.level),
    created: maasEventTime(e.created),
    type: e.type,
    description: e.description,
  };
}

export function queryEvents(st: StandinState, req: ParsedRequest): Reply {
  const q = req.query;
  const after = optionalInt(q.get('after'));
  const before = optionalInt(q.get('before'));
  const limitIn = optionalInt(q.get('limit'));
  if (after === 'invalid' || before === 'invalid' || limitIn === 'invalid') return badRequest('Please enter an integer value');
  const level = q.get('level') ?? 'INFO';
  let limit = limitIn ?? DEFAULT_EVENT_LOG_LIMIT;
  if (limit > MAX_EVENT_LOG_COUNT) return badRequest(`Requested number of events ${limit} is greater than limit: ${MAX_EVENT_LOG_COUNT}`);
  if (limit < 1) limit = 1;

  // filtered_nodes_list_from_request: id / hostname / mac_address / zone / agent_name.
  const ids = q.getAll('id');
  const hosts = q.getAll('hostname');
  const macs = q.getAll('mac_address').map((m) => m.toLowerCase());
  const zones = q.getAll('zone');
  const agents = q.getAll('agent_name');
  const nodes = new Set(
    [...st.machines.values()]
      .filter(
        (m) =>
          (ids.length === 0 || ids.includes(m.system_id)) &&
          (hosts.length === 0 || hosts.includes(m.hostname)) &&
          (macs.length === 0 || macs.includes(m.mac)) &&
          (zones.length === 0 || zones.includes(m.zone)) &&
          (agents.length === 0 || agents.includes(m.agent_name)),
      )
      .map((m) => m.system_id),
  );
  let events: StandinEvent[];
  if (level === 'AUDIT') {
    events = st.events.filter((e) => e.level === LEVEL.AUDIT);
  } else if (level in LEVEL) {
    const min = LEVEL[level as keyof typeof LEVEL];
    events = st.events.filter((e) => nodes.has(e.systemId) && e.level >= min);
  } else {
    return badRequest(`Unrecognised log level: ${level}`);
  }
  const owner = q.get('owner');
  if (owner !== undefined) events = events.filter((e) => e.username === owner);

  if (after === undefined && before === undefined) {
    events = events.sort((a, b) => b.id - a.id).slice(0, limit);
  } else if (after === undefined) {
    events = events.filter((e) => e.id < before!).sort((a, b) => b.id - a.id).slice(0, limit);
  } else if (before === undefined) {
    events = events
      .filter((e) => e.id > after)
      .sort((a, b) => a.id - b.id)
      .slice(0, limit)
      .reverse();
  } else {
    return badRequest('There is undetermined behaviour when both `after` and `before` are specified.');
  }

  const base = q.pairs.filter(([k]) => ALL_PARAMS.has(k));
  const makeUri = (extra: [string, string] | null): string => {
    const p = new URLSearchParams(base);
    if (extra !== null) p.append(extra[0], extra[1]);
    return `/MAAS/api/2.0/events/?${p.toString()}`;
  };
  let nextUri: string;
  if (events.length === 0) nextUri = before === undefined ? makeUri(null) : makeUri(['after', String(before - 1)]);
  else nextUri = makeUri(['after', String(events[0]!.id)]);
  let prevUri: string | null;
  if (events.length === 0) prevUri = after === undefined ? null : makeUri(['before', String(after + 1)]);
  else prevUri = makeUri(['before', String(events[events.length - 1]!.id)]);
  return json({ count: events.length, events: events.map(eventToDict), next_uri: nextUri, prev_uri: prevUri });
}

// ---- tags ---------------------------------------------------------------------------------

function tagToDict(t: { name: string; definition: string; comment: string; kernel_opts: string }): Record<string, unknown> {
  return { name: t.name, definition: t.definition, comment: t.comment, kernel_opts: t.kernel_opts, resource_uri: `/MAAS/api/2.0/tags/${t.name}/` };
}

export function listTags(st: StandinState): Reply {
  return json([...st.tags.values()].sort((a, b) => a.name.localeCompare(b.name)).map(tagToDict));
}

export function createTag(st: StandinState, req: ParsedRequest): Reply {
  if (!req.user!.isAdmin) return forbidden();
  const name = req.data.get('name');
  if (name === undefined || name === '') return fieldErrors({ name: ['This field is required.'] });
  if (st.tags.has(name)) return fieldErrors({ name: ['Tag with this Name already exists.'] });
  return json(tagToDict(st.addTag(name, req.data.get('definition') ?? '', req.data.get('comment') ?? '')));
}

export function readTag(st: StandinState, name: string): Reply {
  const t = st.tags.get(name);
  return t === undefined ? notFound('Tag') : json(tagToDict(t));
}

export function updateNodes(st: StandinState, req: ParsedRequest, name: string): Reply {
  const t = st.tags.get(name);
  if (t === undefined) return notFound('Tag');
  if (!req.user!.isAdmin) return forbidden();
  const definition = req.POST.get('definition');
  if (definition !== undefined && definition !== t.definition) {
    return conflict(`Definition supplied '${definition}' doesn't match current definition '${t.definition}'`);
  }
  let added = 0;
  let removed = 0;
  for (const id of req.POST.getAll('add')) {
    const m = st.machines.get(id);
    if (m !== undefined && !m.tags.has(name)) {
      m.tags.add(name);
      added++;
    }
  }
  for (const id of req.POST.getAll('remove')) {
    const m = st.machines.get(id);
    if (m !== undefined && m.tags.has(name)) {
      m.tags.delete(name);
      removed++;
    }
  }
  return json({ added, removed });
}
