import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import type { NewEvent, Store } from '../../server/store/types.js';
import { pruneTimeline } from '../../server/timeline/retention.js';

const DAY = 24 * 3_600_000;

let dir: string;
let dbPath: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-retention-'));
  dbPath = join(dir, 'rackboot.db');
  store = openSqliteStore(dbPath);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ev = (source: NewEvent['source'], kind: string, machineId: string | null = 'm-1'): NewEvent => ({ machineId, mac: '52:54:00:00:00:01', source, kind, outcome: 'info', message: kind });

/** Moves the events with these ids back in time, as if recorded `daysAgo` days before `now`. */
function age(ids: number[], daysAgo: number, now: number): void {
  const db = new Database(dbPath);
  try {
    const up = db.prepare('UPDATE events SET ts = ? WHERE id = ?');
    for (const id of ids) up.run(new Date(now - daysAgo * DAY).toISOString(), id);
  } finally {
    db.close();
  }
}

async function kinds(machineId = 'm-1'): Promise<string[]> {
  return (await store.events.listForMachine(machineId, { limit: 5000 })).map((e) => e.kind);
}

describe('timeline retention', () => {
  it('deletes events older than the window, keeps lifecycle changes and everything recent', async () => {
    const now = Date.now();
    const old = [
      await store.events.append(ev('dhcp', 'dhcp.discover')),
      await store.events.append(ev('lifecycle', 'lifecycle.transition')),
      await store.events.append(ev('tftp', 'tftp.complete', null)),
      await store.events.append(ev('enrollment', 'node.not-ready')),
    ];
    const recent = [await store.events.append(ev('dhcp', 'dhcp.request')), await store.events.append(ev('lifecycle', 'lifecycle.failed'))];
    age(old.map((e) => e.id), 91, now);
    age([recent[0]!.id], 89, now);

    expect(await pruneTimeline(store.events, 90, now)).toBe(3);
    expect(await kinds()).toEqual(['lifecycle.transition', 'dhcp.request', 'lifecycle.failed']);
    expect((await store.events.listAfter(0, 100)).map((e) => e.id)).toEqual([old[1]!.id, ...recent.map((e) => e.id)]);
    // Nothing left to do: a second run deletes nothing.
    expect(await pruneTimeline(store.events, 90, now)).toBe(0);
  });

  it('keeps everything with 0 days', async () => {
    const e = await store.events.append(ev('dhcp', 'dhcp.discover'));
    age([e.id], 5000, Date.now());
    expect(await pruneTimeline(store.events, 0, Date.now())).toBe(0);
    expect(await kinds()).toEqual(['dhcp.discover']);
  });

  it('works through a backlog larger than one batch', async () => {
    const now = Date.now();
    const ids: number[] = [];
    for (let i = 0; i < 12_345; i++) ids.push((await store.events.append(ev('dhcp', 'dhcp.discover', null))).id);
    await store.events.append(ev('dhcp', 'dhcp.offer', null));
    age(ids, 30, now);
    expect(await pruneTimeline(store.events, 7, now)).toBe(12_345);
    expect((await store.events.listAfter(0, 100)).map((e) => e.kind)).toEqual(['dhcp.offer']);
  });
});
