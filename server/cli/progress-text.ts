// Progress entries of the API (GET /api/v1/progress, `event: progress`) as text for `rackboot watch`.

import type { StageProgress, SubjectProgress, TransferProgress } from '../progress/progress-board.js';
import { bar } from './output.js';

/** 1536 → "1.5 KiB"; binary units, as file sizes are. */
export function byteSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * `[#####...............]  25% kernel 2.0/8.0 MiB 1.0 MiB/s`. A `distinct` transfer says so: its
 * bar is the share of the file a BMC has read, which need not reach 100%.
 */
export function transferText(t: TransferProgress): string {
  const fraction = t.total === 0 ? 1 : t.done / t.total;
  const what = t.direction === 'upload' ? `upload ${t.label}` : t.label;
  const amount = `${byteSize(t.done)}/${byteSize(t.total)}${t.measure === 'distinct' ? ' read' : ''}`;
  const rate = t.status === 'running' && t.bytesPerSecond !== null ? ` ${byteSize(t.bytesPerSecond)}/s` : '';
  const attempt = t.attempt > 1 ? ` attempt ${t.attempt}` : '';
  const status = t.status === 'running' ? '' : ` ${t.status}`;
  return `${bar(fraction)} ${what} ${amount}${rate}${attempt}${status}`;
}

/** An install stage gives no byte count: its place on the ladder and time used of the limit. */
export function stageText(s: StageProgress, now = Date.now()): string {
  const used = Math.max(0, Math.floor((now - Date.parse(s.enteredAt)) / 1000));
  const limit = s.timeoutSeconds === null ? '' : ` of ${duration(s.timeoutSeconds)} allowed`;
  return `step ${s.step}/${s.steps} ${s.state}, ${duration(used)}${limit}`;
}

function duration(s: number): string {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Reads an `event: progress` payload; anything malformed is dropped. */
export function progressMessage(data: string): SubjectProgress | null {
  try {
    const p = JSON.parse(data) as Partial<SubjectProgress>;
    if ((p.subject !== 'machine' && p.subject !== 'cluster') || typeof p.id !== 'string' || !Array.isArray(p.transfers)) return null;
    const transfers = p.transfers.filter((t): t is TransferProgress => typeof t === 'object' && t !== null && typeof t.done === 'number' && typeof t.total === 'number' && typeof t.label === 'string');
    const stage = p.stage !== null && typeof p.stage === 'object' && typeof p.stage.enteredAt === 'string' ? p.stage : null;
    return { subject: p.subject, id: p.id, transfers, stage };
  } catch {
    return null;
  }
}
