import type { Machine } from '../inventory/machine.js';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import type { ApiTarget } from './api-client.js';
import { apiCall, CliFailure, listAll, resolveMachine } from './api-call.js';
import { followStream } from './event-stream.js';
import { timelineEvent } from './events-command.js';
import { bar, oneLine, since } from './output.js';

const PIPELINE = MACHINE_STATES.filter((s) => s !== 'failed');

/** How far along the lifecycle a state is, 0..1. */
export function lifecycleFraction(state: MachineState): number {
  const i = PIPELINE.indexOf(state as (typeof PIPELINE)[number]);
  return i < 0 ? 0 : i / (PIPELINE.length - 1);
}

export interface WatchOptions {
  names: string[];
  until?: MachineState;
}

interface Row {
  machine: Machine;
  step: string;
  /** A long step in flight (a download), from the stream's progress messages. */
  transfer: { what: string; done: number; total: number } | null;
}

/**
 * `rackboot watch`: one line per machine with its lifecycle progress and latest step, redrawn in place
 * on a terminal, one line per change otherwise. With --until it exits 0 once every watched machine has
 * reached that state, 1 as soon as one fails.
 */
export async function watchMachines(t: ApiTarget, o: WatchOptions, out: NodeJS.WriteStream, signal: AbortSignal): Promise<number> {
  const rows = new Map<string, Row>();
  const ids = o.names.length > 0 ? await Promise.all(o.names.map((n) => resolveMachine(t, n))) : null;
  const tty = out.isTTY === true;
  let drawn = 0;
  const printed = new Map<string, string>();

  const render = () => {
    const list = [...rows.values()].sort((a, b) => a.machine.name.localeCompare(b.machine.name));
    const nameW = Math.max(4, ...list.map((r) => r.machine.name.length));
    const lines = list.map((r) => {
      const m = r.machine;
      const progress = r.transfer !== null && r.transfer.total > 0 ? `${bar(r.transfer.done / r.transfer.total)} ${r.transfer.what}` : `${bar(m.state === 'failed' ? 0 : lifecycleFraction(m.state))}`;
      const tail = m.state === 'failed' ? (m.stateReason ?? r.step) : r.step;
      return oneLine(`${m.name.padEnd(nameW)}  ${m.state.padEnd(17)} ${since(m.stateEnteredAt).padStart(9)}  ${progress}  ${tail}`);
    });
    if (tty) {
      const width = out.columns ?? 120;
      out.write(`${drawn > 0 ? `\u001b[${drawn}A` : ''}${lines.map((l) => `${l.slice(0, width - 1)}\u001b[K\n`).join('')}`);
      drawn = lines.length;
    } else {
      for (const r of list) {
        const key = `${r.machine.state} ${r.step}`;
        if (printed.get(r.machine.id) === key) continue;
        printed.set(r.machine.id, key);
        out.write(`${new Date().toISOString()}  ${lines[list.indexOf(r)]}\n`);
      }
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
  signal.addEventListener('abort', () => stop.abort(), { once: true });
  const ticker = tty ? setInterval(render, 1000) : null;
  try {
    // The board is read once the stream is open, so no change between the two is missed.
    const snapshot = async () => {
      const initial = ids === null ? await listAll<Machine>(t, '/api/v1/machines') : await Promise.all(ids.map((id) => fetchMachine(t, id)));
      for (const m of initial) if (m !== null) rows.set(m.id, { machine: m, step: '', transfer: null });
      if (rows.size === 0 && ids !== null) throw new CliFailure('none of the named machines exists', 1);
      if (rows.size === 0) out.write('no machines yet; waiting for some\n');
      else render();
      early = verdict();
      if (early !== null) stop.abort();
    };
    let early: number | null = null;
    for await (const msg of followStream(t, '/api/v1/events/stream', stop.signal, snapshot)) {
      if (msg.event === 'progress') {
        const p = progressMessage(msg.data);
        const row = p === null ? undefined : rows.get(p.machineId);
        if (row !== undefined && p !== null) {
          row.transfer = p.done >= p.total ? null : { what: p.what, done: p.done, total: p.total };
          if (tty) render();
        }
        continue;
      }
      if (msg.event !== 'timeline') continue; // cluster events carry no machine
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
        row = { machine: m, step: '', transfer: null, ...(row ?? {}) };
        row.machine = m;
        rows.set(m.id, row);
      }
      if (to !== null) row.machine = { ...row.machine, state: to, stateEnteredAt: e.ts };
      row.step = `${e.kind}: ${e.message}`;
      if (e.kind.endsWith('.fetched') || e.kind.endsWith('.aborted')) row.transfer = null;
      render();
      const v = verdict();
      if (v !== null) return v;
    }
    return early ?? 0;
  } finally {
    if (ticker !== null) clearInterval(ticker);
    stop.abort();
  }
}

async function fetchMachine(t: ApiTarget, id: string): Promise<Machine | null> {
  const a = await apiCall<Machine>(t, 'GET', `/api/v1/machines/${id}`);
  if (a.ok) return a.body;
  if (a.status === 404) return null;
  throw new CliFailure(`reading machine ${id} failed (HTTP ${a.status}): ${a.problem.detail ?? ''}`, 1);
}

function progressMessage(data: string): { machineId: string; what: string; done: number; total: number } | null {
  try {
    const p = JSON.parse(data) as Record<string, unknown>;
    if (typeof p.machineId !== 'string' || typeof p.done !== 'number' || typeof p.total !== 'number') return null;
    return { machineId: p.machineId, what: typeof p.file === 'string' ? p.file : 'transfer', done: p.done, total: p.total };
  } catch {
    return null;
  }
}
