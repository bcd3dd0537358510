import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authenticateApiToken, ensureBootstrapToken, secretSha256 } from '../../server/access/api-tokens.js';
import { installAccessControl } from '../../server/http/access-control.js';
import { installProblemHandlers } from '../../server/http/problem.js';
import { RateLimiter } from '../../server/http/rate-limiter.js';
import type { Machine } from '../../server/inventory/machine.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

let f: HttpFixture;
let m: Machine;

beforeEach(async () => {
  f = await buildHttpFixture({ profiles: { p: { kernel: 'k', initrds: ['i'], cmdline: '' } }, boot: { defaultProfile: 'p' } });
  m = await f.addMachine({ name: 'node-1', macs: ['52:54:00:12:34:56'] });
});
afterEach(async () => {
  await f.cleanup();
});

function expect401(r: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, invalid: boolean): void {
  expect(r.statusCode).toBe(401);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.headers['www-authenticate']).toBe(invalid ? 'Bearer realm="rackboot", error="invalid_token"' : 'Bearer realm="rackboot"');
  expect(r.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
}

describe('API tokens', () => {
  it('refuses the API without a token, for known and unknown routes alike', async () => {
    for (const url of ['/api/v1/machines', `/api/v1/machines/${m.id}`, '/api/v1/nothing', '/', '//api//v1/machines', '/api/v1/machines?state=ready']) {
      expect401(await f.app.inject({ method: 'GET', url }), false);
    }
    expect401(await f.app.inject({ method: 'DELETE', url: `/api/v1/machines/${m.id}` }), false);
    expect(await f.store.machines.get(m.id)).not.toBeNull();
  });

  it('refuses unknown tokens, other auth schemes and machine boot tokens', async () => {
    const bootToken = f.tokens.tokenFor(m);
    for (const authorization of [`Bearer ${bootToken}`, 'Bearer rbt_notarealtoken', `Bearer ${f.adminToken}x`]) {
      expect401(await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: { authorization } }), true);
    }
    expect401(await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: { authorization: `Basic ${Buffer.from(`admin:${f.adminToken}`).toString('base64')}` } }), false);
  });

  it('lets a viewer read and nothing else', async () => {
    const list = await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: f.auth('viewer') });
    expect(list.statusCode).toBe(200);
    expect((list.json() as { total: number }).total).toBe(1);
    expect((await f.app.inject({ method: 'HEAD', url: `/api/v1/machines/${m.id}`, headers: f.auth('viewer') })).statusCode).toBe(200);
    const writes = [
      { method: 'POST' as const, url: '/api/v1/machines', payload: { name: 'x', macs: ['52:54:00:00:00:09'] } },
      { method: 'PATCH' as const, url: `/api/v1/machines/${m.id}`, payload: { rack: 'r9' } },
      { method: 'DELETE' as const, url: `/api/v1/machines/${m.id}` },
      { method: 'POST' as const, url: `/api/v1/machines/${m.id}/provision` },
    ];
    for (const w of writes) {
      const r = await f.app.inject({ ...w, headers: f.auth('viewer') });
      expect(r.statusCode, `${w.method} ${w.url}`).toBe(403);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toMatchObject({ status: 403, title: 'Forbidden' });
    }
    const after = await f.store.machines.get(m.id);
    expect(after).toMatchObject({ rack: null, state: m.state, tokenGeneration: m.tokenGeneration });
    expect((await f.store.machines.list()).total).toBe(1);
  });

  it('lets an admin write', async () => {
    const r = await f.app.inject({ method: 'PATCH', url: `/api/v1/machines/${m.id}`, payload: { rack: 'r9' }, headers: f.auth('admin') });
    expect(r.statusCode, r.body).toBe(200);
    expect((await f.store.machines.get(m.id))!.rack).toBe('r9');
  });

  it('refuses a revoked token from the next request on', async () => {
    expect((await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: f.auth('viewer') })).statusCode).toBe(200);
    expect(await f.store.apiTokens.revoke('test-viewer')).toMatchObject({ name: 'test-viewer' });
    expect401(await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: f.auth('viewer') }), true);
    expect(await f.store.apiTokens.revoke('test-viewer')).toBeNull();
  });

  it('keeps boot paths on machine tokens only: an API token opens none of them', async () => {
    const wrong = `/boot/${m.id}/${'A'.repeat(43)}`;
    for (const suffix of ['/script.ipxe', '/user-data', '/ipxe/ipxe.efi', '/callback/install-start']) {
      const r = await f.app.inject({ method: 'GET', url: `${wrong}${suffix}`, headers: f.auth('admin') });
      expect(r.statusCode, suffix).toBe(404);
      expect(r.body).toBe('not found\n');
    }
    // The right machine token needs no API token.
    expect((await f.app.inject({ method: 'GET', url: f.bootPath(m, '/ipxe/ipxe.efi') })).statusCode).toBe(200);
    expect((await f.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('serves the API over plain HTTP to clients on this host only, and boot paths to everyone', async () => {
    const far = await f.app.inject({ url: '/api/v1/machines', headers: f.auth(), remoteAddress: '192.0.2.50' });
    expect(far.statusCode).toBe(403);
    expect(far.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((far.json() as { detail: string }).detail).toContain('HTTPS');
    expect((await f.app.inject({ url: '/api/v1/machines', headers: f.auth(), remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    expect((await f.app.inject({ url: f.bootPath(m, '/ipxe/ipxe.efi'), remoteAddress: '192.0.2.50' })).statusCode).toBe(200);
  });

  it('protects routes that modules register later, without their opting in', async () => {
    const app = Fastify();
    installProblemHandlers(app);
    installAccessControl(app, f.store.apiTokens, new RateLimiter({ perMinute: 0, burst: 1 }));
    await app.register(async (scope) => {
      scope.get('/api/v1/added-later', async () => ({ ok: true }));
      scope.post('/api/v1/added-later', async () => ({ ok: true }));
    });
    try {
      expect401(await app.inject({ method: 'GET', url: '/api/v1/added-later' }), false);
      expect((await app.inject({ method: 'GET', url: '/api/v1/added-later', headers: f.auth('viewer') })).statusCode).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/api/v1/added-later', headers: f.auth('viewer') })).statusCode).toBe(403);
      expect((await app.inject({ method: 'POST', url: '/api/v1/added-later', headers: f.auth('admin') })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('bootstrap admin token', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rb-token-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is created once, written 0600, logged by path and never by secret', async () => {
    const store = openSqliteStore(join(dir, 'rackboot.db'));
    let logged = '';
    const log = pino(new Writable({ write: (c: Buffer, _e, cb) => ((logged += c.toString()), cb()) }));
    try {
      await ensureBootstrapToken(store.apiTokens, store.audit, dir, log);
      const file = join(dir, 'admin.token');
      const secret = readFileSync(file, 'utf8').trim();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(await authenticateApiToken(store.apiTokens, secret)).toMatchObject({ name: 'bootstrap-admin', role: 'admin' });
      expect(logged).toContain(file);
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(secret.slice(4, 20));
      // Stored hashed: the secret is nowhere in the database file.
      const files = ['rackboot.db', 'rackboot.db-wal'].filter((n) => existsSync(join(dir, n))).map((n) => readFileSync(join(dir, n)));
      expect(Buffer.concat(files).includes(Buffer.from(secret.slice(4)))).toBe(false);
      expect(Buffer.concat(files).includes(Buffer.from(secretSha256(secret)))).toBe(true);

      await ensureBootstrapToken(store.apiTokens, store.audit, dir, log);
      expect(readFileSync(file, 'utf8').trim()).toBe(secret);
      expect(await store.apiTokens.list()).toHaveLength(1);
      expect((await store.audit.list({ limit: 10, offset: 0 })).items.map((e) => [e.actor, e.action, e.target])).toEqual([['rackboot', 'tokens bootstrap', 'bootstrap-admin']]);
    } finally {
      await store.close();
    }
  });
});
