// Live progress of long steps, per machine and per cluster: downloads a machine makes from rackboot,
// the content bundle upload of a cluster formation, and how long a machine has been in a timed
// lifecycle stage. Memory only, never the store: the finished step is what the timelines record.
// Updates are throttled per subject (at most one per interval, plus every start and end), so a
// transfer of millions of chunks emits a handful of events. A change held back by the throttle goes
// out at the end of the interval (one unref'd timer per subject at most, so none keeps a process up).

import { EventEmitter } from 'node:events';
import { Type, type Static } from '@sinclair/typebox';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import { STAGE_LIMITS, type StageTimeouts } from '../lifecycle/stage-limits.js';
import type { StoredEvent } from '../store/types.js';

export const TransferProgressSchema = Type.Object(
  {
    direction: Type.Union([Type.Literal('download'), Type.Literal('upload')]),
    label: Type.String({ description: 'file name' }),
    measure: Type.Union([Type.Literal('sent'), Type.Literal('distinct')], {
      description:
        "`sent`: bytes of one whole-file response (or one upload attempt) sent so far, of its length. `distinct`: bytes of the file read at least once by Range requests (a BMC mounting an ISO), of the file size; a BMC reads only what the installer needs, so this need not reach 100%",
    }),
    done: Type.Integer({ minimum: 0 }),
    total: Type.Integer({ minimum: 0 }),
    attempt: Type.Integer({ minimum: 1, description: 'upload attempt; a retried upload starts again from byte 0' }),
    status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    startedAt: Type.String({ format: 'date-time', description: 'start of this attempt (or of the first Range read)' }),
    updatedAt: Type.String({ format: 'date-time' }),
    bytesPerSecond: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: 'average since startedAt; null before a second has passed' }),
  },
  { additionalProperties: false },
);
export type TransferProgress = Static<typeof TransferProgressSchema>;

export const StageProgressSchema = Type.Object(
  {
    state: Type.String({ description: 'the lifecycle state the machine is in' }),
    step: Type.Integer({ minimum: 1, description: 'position of the state on the lifecycle ladder, 1-based' }),
    steps: Type.Integer({ minimum: 1, description: 'length of the ladder (failed not counted)' }),
    enteredAt: Type.String({ format: 'date-time' }),
    timeoutSeconds: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: 'how long the state may last before the machine is failed. An install reports no byte progress: elapsed time against this limit is all there is to show',
    }),
  },
  { additionalProperties: false },
);
export type StageProgress = Static<typeof StageProgressSchema>;

export const SubjectProgressSchema = Type.Object(
  {
    subject: Type.Union([Type.Literal('machine'), Type.Literal('cluster')]),
    id: Type.String(),
    transfers: Type.Array(TransferProgressSchema, { description: 'newest first; finished ones stay until the subject moves on' }),
    stage: Type.Union([StageProgressSchema, Type.Null()], { description: 'machines in a timed lifecycle state only' }),
  },
  { additionalProperties: false },
);
export type SubjectProgress = Static<typeof SubjectProgressSchema>;

type Subject = SubjectProgress['subject'];

export interface ProgressBoardOptions {
  /** Time limit of each timed lifecycle state, in seconds. */
  stageTimeouts: Partial<Record<MachineState, number>>;
  /** Least time between two updates of one subject; starts and ends always go out. Default 1000. */
  intervalMs?: number;
  /** Transfers smaller than this are not shown. Default 1 MiB. */
  minBytes?: number;
  now?: () => number;
}

/** One response body (or upload attempt) being sent; `sent` takes the running byte count. */
export interface TransferHandle {
  sent(bytes: number): void;
  end(ok: boolean): void;
}

const LADDER = MACHINE_STATES.filter((s) => s !== 'failed');
/** Transfers kept per subject: a machine fetches kernel, initrd and rootfs; more is history. */
const MAX_TRANSFERS = 6;
/** Disjoint byte ranges kept per file for distinct-byte counting; a sequential reader needs one. */
const MAX_RANGES = 4096;

interface Entry {
  p: TransferProgress;
  /** Sorted, disjoint [start, end) ranges read, for `distinct`. */
  ranges: Array<[number, number]>;
  startMs: number;
}

interface Board {
  transfers: Map<string, Entry>;
  stage: StageProgress | null;
  lastEmit: number;
  /** The held-back update, if any. */
  trailing: NodeJS.Timeout | null;
}

export class ProgressBoard extends EventEmitter<{ progress: [SubjectProgress] }> {
  private readonly boards = new Map<string, Board>();
  private readonly intervalMs: number;
  private readonly minBytes: number;
  private readonly now: () => number;

  constructor(private readonly o: ProgressBoardOptions) {
    super();
    // One listener per event stream that asked for progress; the stream route caps how many there are.
    this.setMaxListeners(0);
    this.intervalMs = o.intervalMs ?? 1000;
    this.minBytes = o.minBytes ?? 1 << 20;
    this.now = o.now ?? Date.now;
  }

  /** Current progress of every subject that has any. */
  list(): SubjectProgress[] {
    return [...this.boards.keys()].map((k) => this.view(k)).filter((v): v is SubjectProgress => v !== null);
  }

  get(subject: Subject, id: string): SubjectProgress | null {
    return this.view(`${subject}:${id}`);
  }

  /**
   * A machine is sent a file, or a range of it. Whole files count bytes sent of the body; Range reads
   * add their range to the file's distinct-byte count when they end. Small files get no bar.
   */
  download(machineId: string, label: string, body: { range: { start: number; end: number } | null; bytes: number; size: number }): TransferHandle | null {
    const ranged = body.range !== null && !(body.range.start === 0 && body.bytes === body.size);
    if ((ranged ? body.size : body.bytes) < this.minBytes) return null;
    const key = `machine:${machineId}`;
    if (!ranged) {
      const e = this.startTransfer(key, 'download', label, 'sent', body.bytes, 1);
      return this.handle(key, e);
    }
    // One entry per file for all its Range reads: reused while running, restarted once finished.
    const b = this.board(key);
    let e = b.transfers.get(label);
    if (e === undefined || e.p.measure !== 'distinct' || e.p.total !== body.size || e.p.status !== 'running') {
      e = this.startTransfer(key, 'download', label, 'distinct', body.size, 1);
    }
    const entry = e;
    const start = body.range!.start;
    return {
      sent: () => undefined,
      end: (ok) => {
        const reached = ok ? body.bytes : 0;
        if (reached > 0) addRange(entry.ranges, start, start + reached);
        entry.p.done = entry.ranges.reduce((n, [s, t]) => n + (t - s), 0);
        if (entry.p.done >= entry.p.total) entry.p.status = 'done';
        this.touch(key, entry, entry.p.status === 'done');
      },
    };
  }

  /** An upload attempt of a cluster's content bundle; a new attempt replaces the last one's bar. */
  upload(clusterId: string, label: string, total: number, attempt: number): TransferHandle {
    const key = `cluster:${clusterId}`;
    const b = this.board(key);
    const e = b.transfers.get(label);
    if (e !== undefined && e.p.status === 'running') {
      e.p.status = 'failed';
      this.touch(key, e, true);
    }
    return this.handle(key, this.startTransfer(key, 'upload', label, 'sent', total, attempt));
  }

  /** Follows machine state changes from the timeline: a timed state gets a stage entry. */
  readonly onTimelineEvent = (e: StoredEvent): void => {
    const to = e.detail?.to;
    if (e.machineId === null || typeof to !== 'string' || !(MACHINE_STATES as readonly string[]).includes(to)) return;
    this.stage(e.machineId, to as MachineState, e.ts);
  };

  /**
   * Sets a machine's stage; a state without a time limit clears it. A move on drops finished
   * transfers, and leaving the install stages drops Range-read counts too (a mounted ISO is read on
   * and off through the whole install and never says it is done).
   */
  stage(machineId: string, state: MachineState, enteredAt: string): void {
    const key = `machine:${machineId}`;
    const b = this.board(key);
    const limit = this.o.stageTimeouts[state];
    for (const [label, e] of b.transfers) if (e.p.status !== 'running' || (limit === undefined && e.p.measure === 'distinct')) b.transfers.delete(label);
    b.stage = limit === undefined ? null : { state, step: LADDER.indexOf(state as (typeof LADDER)[number]) + 1, steps: LADDER.length, enteredAt, timeoutSeconds: limit };
    this.emitNow(key, b);
  }

  /** Drops held-back updates (at shutdown). */
  close(): void {
    for (const b of this.boards.values()) this.cancelTrailing(b);
  }

  private cancelTrailing(b: Board): void {
    if (b.trailing !== null) clearTimeout(b.trailing);
    b.trailing = null;
  }

  private board(key: string): Board {
    let b = this.boards.get(key);
    if (b === undefined) {
      b = { transfers: new Map(), stage: null, lastEmit: -Infinity, trailing: null };
      this.boards.set(key, b);
    }
    return b;
  }

  private startTransfer(key: string, direction: TransferProgress['direction'], label: string, measure: TransferProgress['measure'], total: number, attempt: number): Entry {
    const b = this.board(key);
    const now = this.now();
    const at = new Date(now).toISOString();
    const e: Entry = { p: { direction, label, measure, done: 0, total, attempt, status: 'running', startedAt: at, updatedAt: at, bytesPerSecond: null }, ranges: [], startMs: now };
    b.transfers.delete(label);
    b.transfers.set(label, e);
    // Oldest finished ones go first; running ones are never dropped.
    for (const [l, old] of b.transfers) {
      if (b.transfers.size <= MAX_TRANSFERS) break;
      if (old.p.status !== 'running') b.transfers.delete(l);
    }
    this.emitNow(key, b);
    return e;
  }

  private handle(key: string, e: Entry): TransferHandle {
    let ended = false;
    return {
      sent: (bytes) => {
        if (ended) return;
        e.p.done = Math.min(e.p.total, bytes);
        this.touch(key, e, false);
      },
      end: (ok) => {
        if (ended) return;
        ended = true;
        e.p.status = ok ? 'done' : 'failed';
        if (ok) e.p.done = e.p.total;
        this.touch(key, e, true);
      },
    };
  }

  private touch(key: string, e: Entry, force: boolean): void {
    const b = this.boards.get(key);
    // A subject forgotten meanwhile, or an entry replaced by a newer attempt, reports nothing.
    if (b === undefined || b.transfers.get(e.p.label) !== e) return;
    const now = this.now();
    e.p.updatedAt = new Date(now).toISOString();
    const secs = (now - e.startMs) / 1000;
    e.p.bytesPerSecond = secs >= 1 ? Math.round(e.p.done / secs) : null;
    if (force || now - b.lastEmit >= this.intervalMs) return this.emitNow(key, b);
    if (b.trailing !== null) return;
    b.trailing = setTimeout(() => {
      b.trailing = null;
      if (this.boards.get(key) === b) this.emitNow(key, b);
    }, this.intervalMs - (now - b.lastEmit));
    b.trailing.unref();
  }

  private emitNow(key: string, b: Board): void {
    this.cancelTrailing(b);
    b.lastEmit = this.now();
    const v = this.view(key);
    if (v === null) {
      this.boards.delete(key);
      const [subject, id] = splitKey(key);
      this.emit('progress', { subject, id, transfers: [], stage: null });
      return;
    }
    this.emit('progress', v);
  }

  private view(key: string): SubjectProgress | null {
    const b = this.boards.get(key);
    if (b === undefined || (b.transfers.size === 0 && b.stage === null)) return null;
    const [subject, id] = splitKey(key);
    const transfers = [...b.transfers.values()].map((e) => ({ ...e.p })).reverse();
    return { subject, id, transfers, stage: b.stage === null ? null : { ...b.stage } };
  }
}

function splitKey(key: string): [Subject, string] {
  const i = key.indexOf(':');
  return [key.slice(0, i) as Subject, key.slice(i + 1)];
}

/** Adds [start, end) to sorted disjoint ranges, merging overlaps and neighbours. */
export function addRange(ranges: Array<[number, number]>, start: number, end: number): void {
  if (end <= start) return;
  let i = 0;
  while (i < ranges.length && ranges[i]![1] < start) i++;
  let s = start;
  let t = end;
  let j = i;
  while (j < ranges.length && ranges[j]![0] <= t) {
    s = Math.min(s, ranges[j]![0]);
    t = Math.max(t, ranges[j]![1]);
    j++;
  }
  ranges.splice(i, j - i, [s, t]);
  // A pathological reader (scattered single bytes) must not grow memory without end: past the cap a
  // new disjoint range is not counted, so the bar can lag behind but never claims bytes not read.
  if (ranges.length > MAX_RANGES && j - i === 0) ranges.splice(i, 1);
}

/**
 * The install states the watchdog times, with their limits. Enrollment states are left out: their
 * limit counts from the formation's start when that is later, which the machine alone does not show.
 */
export function timedStages(t: StageTimeouts): Partial<Record<MachineState, number>> {
  return Object.fromEntries(Object.entries(STAGE_LIMITS).flatMap(([state, l]) => (l.enrollment ? [] : [[state, l.seconds(t)]])));
}
