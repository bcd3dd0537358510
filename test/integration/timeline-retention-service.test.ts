import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { REQUIRED_IPXE_BINARIES } from '../../server/boot/ipxe-binaries.js';
import { validateConfig } from '../../server/config/load.js';
import { startService, type RunningService } from '../../server/service.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';

// rackboot prunes its timeline by itself: events older than retention.eventsDays, left in the store
// by an earlier run, are gone once the service has started; lifecycle changes and recent events stay.

const dir = mkdtempSync(join(tmpdir(), 'rb-retention-svc-'));
let svc: RunningService | undefined;
afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('timeline retention in the service', () => {
  it('deletes old events at start, keeping lifecycle changes and recent ones', async () => {
    const dataDir = join(dir, 'data');
    const before = openSqliteStore(join(dataDir, 'rackboot.db'));
    const base = { machineId: null, mac: '52:54:00:00:00:09', outcome: 'info' as const };
    const old = await before.events.append({ ...base, source: 'dhcp', kind: 'dhcp.discover', message: 'old' });
    const history = await before.events.append({ ...base, source: 'lifecycle', kind: 'lifecycle.transition', message: 'old state change' });
    const fresh = await before.events.append({ ...base, source: 'dhcp', kind: 'dhcp.discover', message: 'recent' });
    await before.close();
    const db = new Database(join(dataDir, 'rackboot.db'));
    db.prepare('UPDATE events SET ts = ? WHERE id IN (?, ?)').run(new Date(Date.now() - 40 * 86_400_000).toISOString(), old.id, history.id);
    db.close();

    const ipxeDir = join(dir, 'ipxe');
    mkdirSync(ipxeDir);
    for (const name of REQUIRED_IPXE_BINARIES) writeFileSync(join(ipxeDir, name), Buffer.alloc(512, 1));
    const r = validateConfig(
      { advertiseAddress: '127.0.0.1', dataDir, http: { listen: '127.0.0.1', port: 0 }, https: { enabled: false }, tftp: { enabled: false }, dhcp: { mode: 'off' }, boot: { ipxeDir }, retention: { eventsDays: 30 } },
      dir,
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    svc = await startService(r.config, pino({ level: 'silent' }));
    let ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      ids = (await svc.store.events.listAfter(0, 100)).map((e) => e.id);
      if (!ids.includes(old.id)) break;
      await new Promise((res) => setTimeout(res, 25));
    }
    expect(ids).toEqual([history.id, fresh.id]);
  });
});
