import { describe, expect, it } from 'vitest';
import { byteSize, progressMessage, stageText, transferText } from '../../server/cli/progress-text.js';
import type { TransferProgress } from '../../server/progress/progress-board.js';

const MiB = 1 << 20;
const t = (o: Partial<TransferProgress>): TransferProgress => ({
  direction: 'download',
  label: 'rootfs.squashfs',
  measure: 'sent',
  done: 0,
  total: 100 * MiB,
  attempt: 1,
  status: 'running',
  startedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  bytesPerSecond: null,
  ...o,
});

describe('progress text for rackboot watch', () => {
  it('sizes bytes in binary units', () => {
    expect(byteSize(0)).toBe('0 B');
    expect(byteSize(1023)).toBe('1023 B');
    expect(byteSize(1536)).toBe('1.5 KiB');
    expect(byteSize(3 * 1024 * MiB)).toBe('3.0 GiB');
  });

  it('draws a download bar with bytes, percent and rate', () => {
    expect(transferText(t({ done: 25 * MiB, bytesPerSecond: 5 * MiB }))).toBe('[#####...............]  25% rootfs.squashfs 25.0 MiB/100.0 MiB 5.0 MiB/s');
    expect(transferText(t({ done: 100 * MiB, status: 'done', bytesPerSecond: 5 * MiB }))).toBe('[####################] 100% rootfs.squashfs 100.0 MiB/100.0 MiB done');
  });

  it('says an upload retry is a new attempt, and that a Range-read bar counts bytes read', () => {
    expect(transferText(t({ direction: 'upload', label: 'bundle.tar', done: 50 * MiB, attempt: 2 }))).toBe('[##########..........]  50% upload bundle.tar 50.0 MiB/100.0 MiB attempt 2');
    expect(transferText(t({ measure: 'distinct', label: 'machine.iso', done: 10 * MiB, status: 'running' }))).toContain('10.0 MiB/100.0 MiB read');
  });

  it('shows an install stage as a ladder step and time used of the limit, with no percentage', () => {
    const s = { state: 'installing', step: 5, steps: 12, enteredAt: '2026-01-01T00:00:00.000Z', timeoutSeconds: 3600 };
    const text = stageText(s, Date.parse('2026-01-01T00:03:10.000Z'));
    expect(text).toBe('step 5/12 installing, 3 min of 1 h 0 min allowed');
    expect(text).not.toContain('%');
  });

  it('reads stream payloads defensively', () => {
    expect(progressMessage('not json')).toBeNull();
    expect(progressMessage('{"subject":"rack","id":"x","transfers":[]}')).toBeNull();
    expect(progressMessage(JSON.stringify({ subject: 'cluster', id: 'c', transfers: [t({}), { bogus: 1 }], stage: null }))!.transfers).toHaveLength(1);
  });
});
