import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { addRange, ProgressBoard, SubjectProgressSchema, type SubjectProgress } from '../../server/progress/progress-board.js';
import type { StoredEvent } from '../../server/store/types.js';

const MiB = 1 << 20;
FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)));

function board(intervalMs = 1000): { b: ProgressBoard; seen: SubjectProgress[]; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  const b = new ProgressBoard({ stageTimeouts: { installing: 3600, 'booting-installer': 1200 }, intervalMs, now: () => clock.t });
  const seen: SubjectProgress[] = [];
  b.on('progress', (p) => {
    expect(Value.Check(SubjectProgressSchema, p), JSON.stringify(p)).toBe(true);
    seen.push(p);
  });
  return { b, seen, clock };
}

describe('ProgressBoard downloads', () => {
  it('throttles a whole-file download to one update per interval, plus its start and end at 100%', () => {
    const { b, seen, clock } = board();
    const h = b.download('m1', 'rootfs.squashfs', { range: null, bytes: 100 * MiB, size: 100 * MiB })!;
    for (let i = 1; i <= 100; i++) {
      clock.t += 50; // 100 chunks in 5 s
      h.sent(i * MiB);
    }
    h.end(true);
    const dones = seen.map((p) => p.transfers[0]!.done);
    // start, one per second (5 s of chunks), end
    expect(seen.length).toBe(1 + 5 + 1);
    expect(dones[0]).toBe(0);
    expect(dones.at(-1)).toBe(100 * MiB);
    for (let i = 1; i < dones.length; i++) expect(dones[i]!).toBeGreaterThanOrEqual(dones[i - 1]!);
    const last = seen.at(-1)!.transfers[0]!;
    expect(last).toMatchObject({ direction: 'download', label: 'rootfs.squashfs', measure: 'sent', total: 100 * MiB, status: 'done', attempt: 1 });
    expect(last.bytesPerSecond).toBe(20 * MiB);
    expect(b.get('machine', 'm1')!.transfers[0]!.status).toBe('done');
  });

  it('gives small files no bar and marks a broken download failed, not done', () => {
    const { b, seen } = board();
    expect(b.download('m1', 'user-data', { range: null, bytes: 4096, size: 4096 })).toBeNull();
    expect(seen).toEqual([]);
    const h = b.download('m1', 'kernel', { range: null, bytes: 8 * MiB, size: 8 * MiB })!;
    h.sent(3 * MiB);
    h.end(false);
    expect(b.get('machine', 'm1')!.transfers[0]).toMatchObject({ status: 'failed', done: 3 * MiB, total: 8 * MiB });
  });

  it('counts the distinct bytes Range reads covered, never more than the file, re-reads once', () => {
    const { b } = board();
    const size = 10 * MiB;
    const read = (start: number, len: number) => b.download('m1', 'machine.iso', { range: { start, end: start + len - 1 }, bytes: len, size })!.end(true);
    read(0, MiB);
    read(MiB, MiB);
    read(0, 2 * MiB); // a re-read adds nothing
    read(5 * MiB, MiB);
    const p = b.get('machine', 'm1')!.transfers[0]!;
    expect(p).toMatchObject({ measure: 'distinct', done: 3 * MiB, total: size, status: 'running' });
    for (let at = 0; at < size; at += MiB) read(at, MiB);
    expect(b.get('machine', 'm1')!.transfers[0]).toMatchObject({ done: size, status: 'done' });
    expect(b.get('machine', 'm1')!.transfers).toHaveLength(1);
  });

  it('an aborted Range read adds nothing', () => {
    const { b } = board();
    b.download('m1', 'machine.iso', { range: { start: MiB, end: 2 * MiB - 1 }, bytes: MiB, size: 4 * MiB })!.end(false);
    expect(b.get('machine', 'm1')!.transfers[0]!.done).toBe(0);
  });
});

describe('ProgressBoard throttle', () => {
  it('sends an update the throttle held back once the interval is over, and stops on close', async () => {
    const b = new ProgressBoard({ stageTimeouts: {}, intervalMs: 50 });
    const seen: number[] = [];
    let wake = (): void => undefined;
    b.on('progress', (p) => {
      seen.push(p.transfers[0]!.done);
      wake();
    });
    const h = b.download('m1', 'initrd', { range: null, bytes: 8 * MiB, size: 8 * MiB })!;
    h.sent(MiB);
    h.sent(2 * MiB);
    expect(seen).toEqual([0]);
    await new Promise<void>((r) => (wake = r));
    expect(seen).toEqual([0, 2 * MiB]);
    h.sent(3 * MiB);
    b.close();
    expect(seen).toEqual([0, 2 * MiB]);
  });
});

describe('ProgressBoard uploads', () => {
  it('restarts the bar for each attempt and marks the abandoned attempt failed', () => {
    const { b, seen } = board(0);
    const a1 = b.upload('c1', 'bundle.tar', 1000, 1);
    a1.sent(400);
    const a2 = b.upload('c1', 'bundle.tar', 1000, 2);
    a1.sent(500); // a late report of the old attempt changes nothing
    a2.sent(1000);
    a2.end(true);
    const cluster = seen.filter((p) => p.subject === 'cluster').map((p) => p.transfers[0]!);
    expect(cluster.map((t) => [t.attempt, t.done, t.status])).toEqual([
      [1, 0, 'running'],
      [1, 400, 'running'],
      [1, 400, 'failed'],
      [2, 0, 'running'],
      [2, 1000, 'running'],
      [2, 1000, 'done'],
    ]);
    expect(b.list()).toHaveLength(1);
  });
});

describe('ProgressBoard stages', () => {
  const transition = (machineId: string, from: string, to: string, ts: string): StoredEvent =>
    ({ id: 1, ts, machineId, mac: null, source: 'lifecycle', kind: 'lifecycle.transition', outcome: 'info', message: `${from} → ${to}`, detail: { from, to } }) as StoredEvent;

  it('shows a timed state as step k of the ladder with its time limit, and clears it when the state has none', () => {
    const { b, seen } = board();
    b.onTimelineEvent(transition('m1', 'booting-installer', 'installing', '2026-01-01T00:00:00.000Z'));
    expect(b.get('machine', 'm1')!.stage).toEqual({ state: 'installing', step: 5, steps: 12, enteredAt: '2026-01-01T00:00:00.000Z', timeoutSeconds: 3600 });
    b.onTimelineEvent(transition('m1', 'installing', 'installed', '2026-01-01T00:20:00.000Z'));
    expect(b.get('machine', 'm1')).toBeNull();
    expect(seen.at(-1)).toEqual({ subject: 'machine', id: 'm1', transfers: [], stage: null });
    expect(b.list()).toEqual([]);
  });

  it('keeps Range-read counts through the install stages and drops them when the install is over', () => {
    const { b } = board();
    b.download('m1', 'machine.iso', { range: { start: 0, end: MiB - 1 }, bytes: MiB, size: 8 * MiB })!.end(true);
    b.onTimelineEvent(transition('m1', 'booting-installer', 'installing', '2026-01-01T00:00:00.000Z'));
    expect(b.get('machine', 'm1')!.transfers).toHaveLength(1);
    b.onTimelineEvent(transition('m1', 'installing', 'installed', '2026-01-01T00:20:00.000Z'));
    expect(b.get('machine', 'm1')).toBeNull();
  });

  it('ignores events that are not state changes', () => {
    const { b, seen } = board();
    b.onTimelineEvent({ ...transition('m1', 'a', 'b', 'x'), detail: { file: 'kernel' } });
    expect(seen).toEqual([]);
  });
});

describe('addRange', () => {
  it('keeps ranges sorted and disjoint, merging overlaps and neighbours', () => {
    const r: Array<[number, number]> = [];
    addRange(r, 10, 20);
    addRange(r, 30, 40);
    addRange(r, 0, 5);
    expect(r).toEqual([
      [0, 5],
      [10, 20],
      [30, 40],
    ]);
    addRange(r, 20, 30);
    expect(r).toEqual([
      [0, 5],
      [10, 40],
    ]);
    addRange(r, 3, 12);
    expect(r).toEqual([[0, 40]]);
    addRange(r, 5, 5);
    expect(r).toEqual([[0, 40]]);
  });
});
