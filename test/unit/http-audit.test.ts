import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Machine } from '../../server/inventory/machine.js';
import type { AuditEntry } from '../../server/store/types.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

// Every change through the API leaves who, what, when and how it ended; reads and boot traffic do not.

let f: HttpFixture;
beforeEach(async () => {
  f = await buildHttpFixture({ profiles: { p: { kernel: 'k', initrds: ['i'], cmdline: 'x' } }, boot: { defaultProfile: 'p' } });
});
afterEach(async () => {
  await f.cleanup();
});

const json = (method: 'POST' | 'PATCH' | 'DELETE', url: string, body: unknown, role: 'admin' | 'viewer' = 'admin') =>
  f.app.inject({ method, url, ...(body === undefined ? {} : { payload: JSON.stringify(body) }), headers: { ...f.auth(role), ...(body === undefined ? {} : { 'content-type': 'application/json' }) } });

async function auditLog(query = '', role: 'admin' | 'viewer' = 'viewer'): Promise<{ items: AuditEntry[]; total: number; limit: number; offset: number }> {
  const r = await f.app.inject({ url: `/api/v1/audit${query}`, headers: f.auth(role) });
  expect(r.statusCode, r.body).toBe(200);
  return r.json() as { items: AuditEntry[]; total: number; limit: number; offset: number };
}

describe('audit log', () => {
  it('records each change with the token, the route, the target, the status, and field names without values', async () => {
    const before = Date.now();
    const created = await json('POST', '/api/v1/machines', { name: 'm1', macs: ['52:54:00:00:00:01'], rack: 'r1' });
    expect(created.statusCode).toBe(201);
    const m = created.json() as Machine;
    expect((await json('PATCH', `/api/v1/machines/${m.id}`, { rack: 'value-that-must-not-be-logged' })).statusCode).toBe(200);
    const csv = 'name,mac\nm2,52:54:00:00:00:02\n';
    const imported = await f.app.inject({ method: 'POST', url: '/api/v1/machines/import', payload: csv, headers: { ...f.auth(), 'content-type': 'text/csv' } });
    expect(imported.statusCode).toBe(201);

    const log = await auditLog();
    expect(log.total).toBe(3);
    expect(log.items.map((e) => [e.actor, e.role, e.action, e.target, e.status, e.outcome])).toEqual([
      ['test-admin', 'admin', 'POST /api/v1/machines/import', null, 201, 'ok'],
      ['test-admin', 'admin', 'PATCH /api/v1/machines/:id', m.id, 200, 'ok'],
      ['test-admin', 'admin', 'POST /api/v1/machines', null, 201, 'ok'],
    ]);
    expect(log.items[2]!.detail).toEqual({ path: '/api/v1/machines', fields: ['macs', 'name', 'rack'] });
    expect(log.items[1]!.detail).toEqual({ path: `/api/v1/machines/${m.id}`, fields: ['rack'] });
    expect(log.items[0]!.detail).toEqual({ path: '/api/v1/machines/import', bytes: csv.length });
    expect(JSON.stringify(log)).not.toContain('value-that-must-not-be-logged');
    for (const e of log.items) {
      expect(Date.parse(e.ts)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(e.ts)).toBeLessThanOrEqual(Date.now());
    }
  });

  it('records refused and failed changes too, but not reads, unauthenticated calls or boot traffic', async () => {
    const m = await f.addMachine({ name: 'm1', macs: ['52:54:00:00:00:01'] });
    expect((await json('DELETE', `/api/v1/machines/${m.id}`, undefined, 'viewer')).statusCode).toBe(403);
    expect((await json('DELETE', '/api/v1/machines/00000000-0000-4000-8000-000000000000', undefined)).statusCode).toBe(404);
    expect((await json('POST', '/api/v1/machines', { name: 'bad name', macs: [] })).statusCode).toBe(422);
    expect((await f.app.inject({ method: 'DELETE', url: `/api/v1/machines/${m.id}` })).statusCode).toBe(401);
    expect((await f.app.inject({ url: '/api/v1/machines', headers: f.auth() })).statusCode).toBe(200);
    expect((await f.app.inject({ method: 'POST', url: f.bootPath(m, '/callback/install-start') })).statusCode).toBe(409);
    const log = await auditLog();
    expect(log.items.map((e) => [e.actor, e.action, e.status, e.outcome])).toEqual([
      ['test-admin', 'POST /api/v1/machines', 422, 'failed'],
      ['test-admin', 'DELETE /api/v1/machines/:id', 404, 'failed'],
      ['test-viewer', 'DELETE /api/v1/machines/:id', 403, 'refused'],
    ]);
    expect(await f.store.machines.get(m.id)).not.toBeNull();
  });

  it('filters by actor and target and pages newest first with a total', async () => {
    const ms: Machine[] = [];
    for (let i = 1; i <= 3; i++) ms.push(await f.addMachine({ name: `m${i}`, macs: [`52:54:00:00:00:0${i}`] }));
    for (const m of ms) expect((await json('PATCH', `/api/v1/machines/${m.id}`, { rack: 'r' })).statusCode).toBe(200);
    expect((await json('PATCH', `/api/v1/machines/${ms[0]!.id}`, { rack: 'q' }, 'viewer')).statusCode).toBe(403);
    expect((await auditLog('?actor=test-viewer')).items.map((e) => e.target)).toEqual([ms[0]!.id]);
    const forM1 = await auditLog(`?target=${ms[0]!.id}`);
    expect(forM1.items.map((e) => e.actor)).toEqual(['test-viewer', 'test-admin']);
    const page = await auditLog('?actor=test-admin&limit=2&offset=1');
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 1 });
    expect(page.items.map((e) => e.target)).toEqual([ms[1]!.id, ms[0]!.id]);
    expect((await f.app.inject({ url: '/api/v1/audit' })).statusCode).toBe(401);
    expect((await f.app.inject({ url: '/api/v1/audit?limit=0', headers: f.auth() })).statusCode).toBe(400);
  });
});
