import type { Machine } from '../inventory/machine.js';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import type { SubjectProgress } from '../progress/progress-board.js';
import type { ApiTarget } from './api-client.js';
import { apiCall, CliFailure, listAll, resolveMachine } from './api-call.js';
import { allClusters, formationStep, type ClusterView } from './clusters-command.js';
import { followStream } from './event-stream.js';
import { timelineEvent } from './events-command.js';
import { bar, oneLine, since } from './output.js';
import { progressMessage, stageText, transferText } from './progress-text.js';

const PIPELINE = MACHINE_STATES.filter((s) => s !== 'failed');

/** How far along the lifecycle a state is, 0..1. */
export function lifecycleFraction(state: MachineState): number {
  const i = PIPELINE.indexOf(state as (typeof PIPELINE)[number]);
  return i < 0 ? 0 : i / (PIPELINE.length - 1);
}

export interface WatchOptions {
  names: string[];
  until?: MachineState;
  /** `json`: the starting board (`event: snapshot`), then every stream message, one JSON line each. */
  output?: 'table' | 'json';
}

interface Row {
  machine: Machine;
  step: string;
}

interface ClusterRow {
  id: string;
  name: string;
  state: string;
  /** The formation step under way (or last done) and its latest message. */
  step: string;
  note: string;
}

/**
 * `rackboot watch`: one line per machine (lifecycle, latest step, and a bar for a download or the
 * install stage) and, when no machine is named, one per cluster (formation step, upload bar).
 * Redrawn in place on a terminal; otherwise one line per change, and a transfer at most every tenth.
 * With --until it exits 0 once every watched machine has reached that state, 1 as soon as one fails.
 */
export async function watchMachines(t: ApiTarget, o: WatchOptions, out: NodeJS.WriteStream, signal: AbortSignal): Promise<number> {
  const rows = new Map<string, Row>();
  const clusters = new Map<string, ClusterRow>();
  const progress = new Map<string, SubjectProgress>();
  const ids = o.names.length > 0 ? await Promise.all(o.names.map((n) => resolveMachine(t, n))) : null;
  const json = o.output === 'json';
  const tty = out.isTTY === true && !json;
  let drawn = 0;
  const printed = new Map<string, string>();

  const lines = (): Array<{ key: string; text: string; change: string }> => {
    const list = [...rows.values()].sort((a, b) => a.machine.name.localeCompare(b.machine.name));
    const cl = [...clusters.values()].sort((a, b) => a.name.localeCompare(b.name));
    const nameW = Math.max(4, ...list.map((r) => r.machine.name.length), ...cl.map((c) => c.name.length + 8));
    const now = Date.now();
    const machineLines = list.map((r) => {
      const m = r.machine;
      const p = progress.get(`machine:${m.id}`);
      // A transfer of this state (running, or its last one finished) has the bar; else the ladder does.
      const tr = p?.transfers.find((x) => x.status === 'running') ?? p?.transfers.find((x) => Date.parse(x.updatedAt) >= Date.parse(m.stateEnteredAt));
      const ladder = bar(m.state === 'failed' ? 0 : lifecycleFraction(m.state));
      const shown = tr !== undefined ? transferText(tr) : p?.stage != null && p.stage.state === m.state ? `${ladder} ${stageText(p.stage, now)}` : ladder;
      const tail = m.state === 'failed' ? (m.stateReason ?? r.step) : r.step;
      return { key: m.id, text: oneLine(`${m.name.padEnd(nameW)}  ${m.state.padEnd(17)} ${since(m.stateEnteredAt, now).padStart(9)}  ${shown}  ${tail}`), change: `${m.state} ${r.step} ${transferMark(p)}` };
    });
    const clusterLines = cl.map((c) => {
      const p = progress.get(`cluster:${c.id}`);
      // The upload bar while it runs and for the rest of its step; later steps show their own messages.
      const t = p?.transfers.find((x) => x.status === 'running') ?? (c.step === 'content-upload' ? p?.transfers[0] : undefined);
      const shown = t === undefined ? '' : `  ${transferText(t)}`;
      const note = c.note === '' ? '' : `  ${c.note}`;
      return { key: c.id, text: oneLine(`${`cluster ${c.name}`.padEnd(nameW)}  ${c.state.padEnd(17)} ${c.step}${shown}${note}`), change: `${c.state} ${c.step} ${c.note} ${transferMark(p)}` };
    });
    return [...machineLines, ...clusterLines];
  };

  const render = () => {
    if (json) return;
    const all = lines();
    if (tty) {
      const width = out.columns ?? 120;
      out.write(`${drawn > 0 ? `\u001b[${drawn}A` : ''}${all.map((l) => `${l.text.slice(0, width - 1)}\u001b[K\n`).join('')}`);
      drawn = all.length;
      return;
    }
    for (const l of all) {
      if (printed.get(l.key) === l.change) continue;
      printed.set(l.key, l.change);
      out.write(`${new Date().toISOString()}  ${l.text}\n`);
    }
  };

  const verdict = (): number | null => {
    if (o.until === undefined) return null;
    const all = [...rows.values()].map((r) => r.machine);
    if (all.some((m) => m.state === 'failed' && o.until !== 'failed')) return 1;
    const goal = PIPELINE.indexOf(o.until as (typeof PIPELINE)[number]);
    return all.every((m) => (o.until === 'failed' ? m.state === 'failed' : PIPELINE.indexOf(m.state as (typeof PIPELINE)[number]) >= goal)) ? 0 : null;
  };

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  // A terminal's elapsed times and rates move on between messages.
  const ticker = tty ? setInterval(render, 1000) : null;
  try {
    let early: number | null = null;
    // The board is read once the stream is open, so no change between the two is missed.
    const snapshot = async () => {
      const initial = ids === null ? await listAll<Machine>(t, '/api/v1/machines') : await Promise.all(ids.map((id) => fetchMachine(t, id)));
      for (const m of initial) if (m !== null) rows.set(m.id, { machine: m, step: '' });
      if (rows.size === 0 && ids !== null) throw new CliFailure('none of the named machines exists', 1);
      if (ids === null) for (const c of await allClusters(t)) clusters.set(c.id, { id: c.id, name: c.name, state: c.state, step: formationStep(c), note: '' });
      if (json) out.write(`${JSON.stringify({ event: 'snapshot', id: null, data: { machines: [...rows.values()].map((r) => r.machine), clusters: [...clusters.values()].map(({ id, name, state, step }) => ({ id, name, state, step })) } })}\n`);
      else if (rows.size === 0 && clusters.size === 0) out.write('no machines yet; waiting for some\n');
      else render();
      early = verdict();
      if (early !== null) stop.abort();
    };
    for await (const msg of followStream(t, '/api/v1/events/stream?progress=true', stop.signal, snapshot)) {
      if (json) out.write(`${JSON.stringify({ event: msg.event, id: msg.id, data: parseJson(msg.data) })}\n`);
      if (msg.event === 'progress') {
        const p = progressMessage(msg.data);
        if (p === null || (p.subject === 'machine' ? !rows.has(p.id) : !clusters.has(p.id))) continue;
        if (p.transfers.length === 0 && p.stage === null) progress.delete(`${p.subject}:${p.id}`);
        else progress.set(`${p.subject}:${p.id}`, p);
        render();
        continue;
      }
      if (msg.event === 'cluster') {
        if (ids === null) await clusterEvent(t, clusters, msg.data);
        render();
        continue;
      }
      if (msg.event !== 'timeline') continue;
      const e = timelineEvent(msg.data);
      if (e === null || e.machineId === null || (ids !== null && !ids.includes(e.machineId))) continue;
      // The event says which state it moved to; reading the machine again could skip a state that
      // was left before the read.
      const to = typeof e.detail?.to === 'string' && (MACHINE_STATES as readonly string[]).includes(e.detail.to) ? (e.detail.to as MachineState) : null;
      let row = rows.get(e.machineId);
      if (row === undefined || to === 'failed') {
        const m = await fetchMachine(t, e.machineId);
        if (m === null) {
          rows.delete(e.machineId);
          continue;
        }
        row = { machine: m, step: row?.step ?? '' };
        rows.set(m.id, row);
      }
      if (to !== null) row.machine = { ...row.machine, state: to, stateEnteredAt: e.ts };
      row.step = `${e.kind}: ${e.message}`;
      render();
      const v = verdict();
      if (v !== null) return v;
    }
    return early ?? 0;
  } finally {
    if (ticker !== null) clearInterval(ticker);
    signal.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

/** Changes a piped watch prints a line for: a transfer's start, each further tenth, and its end. */
function transferMark(p: SubjectProgress | undefined): string {
  const tr = p?.transfers.find((x) => x.status === 'running') ?? p?.transfers[0];
  if (tr === undefined) return p?.stage?.state ?? '';
  return `${tr.label} ${tr.attempt} ${tr.status} ${tr.total === 0 ? 10 : Math.floor((tr.done / tr.total) * 10)}`;
}

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

async function clusterEvent(t: ApiTarget, clusters: Map<string, ClusterRow>, data: string): Promise<void> {
  let e: { clusterId?: unknown; kind?: unknown; message?: unknown; detail?: { state?: unknown } };
  try {
    e = JSON.parse(data) as typeof e;
  } catch {
    return;
  }
  if (typeof e.clusterId !== 'string' || typeof e.kind !== 'string') return;
  let c = clusters.get(e.clusterId);
  if (c === undefined) {
    // A cluster defined after watch started.
    const r = await apiCall<ClusterView>(t, 'GET', `/api/v1/clusters/${e.clusterId}`);
    if (!r.ok) return;
    c = { id: r.body.id, name: r.body.name, state: r.body.state, step: formationStep(r.body), note: '' };
    clusters.set(c.id, c);
  }
  if (e.kind === 'cluster.state' && typeof e.detail?.state === 'string') c.state = e.detail.state;
  if (e.kind.startsWith('step.')) c.step = e.kind.slice('step.'.length);
  // Upload quarters are on the bar already.
  if (e.kind !== 'content.upload-progress' && typeof e.message === 'string') c.note = e.message;
}

async function fetchMachine(t: ApiTarget, id: string): Promise<Machine | null> {
  const a = await apiCall<Machine>(t, 'GET', `/api/v1/machines/${id}`);
  if (a.ok) return a.body;
  if (a.status === 404) return null;
  throw new CliFailure(`reading machine ${id} failed (HTTP ${a.status}): ${a.problem.detail ?? ''}`, 1);
}
