import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrowserSessions, cookieValue } from '../../server/access/browser-sessions.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

// The dashboard's way in: its static files are open and locked down by CSP; its data comes through
// the gated API with a session cookie obtained once for a bearer token.

let f: HttpFixture;
beforeEach(async () => {
  f = await buildHttpFixture({});
  await f.addMachine({ name: 'node-1', macs: ['52:54:00:12:34:56'] });
});
afterEach(async () => f.cleanup());

async function signIn(role: 'admin' | 'viewer'): Promise<string> {
  const r = await f.app.inject({ method: 'POST', url: '/api/v1/session', headers: f.auth(role) });
  expect(r.statusCode, r.body).toBe(200);
  expect(r.json()).toEqual({ name: `test-${role}`, role });
  const set = String(r.headers['set-cookie']);
  expect(set).toMatch(/^rackboot_session=[A-Za-z0-9_-]{43}; Path=\/api\/v1\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  expect(set).not.toContain(role === 'admin' ? f.adminToken : f.viewerToken);
  return `rackboot_session=${cookieValue(set, 'rackboot_session')}`;
}

describe('dashboard files', () => {
  it('serves the page without a token, with a CSP that allows no inline script', async () => {
    for (const url of ['/ui/', '/ui', '/ui/index.html']) {
      const r = await f.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['content-security-policy']).toContain("script-src 'self';");
      expect(r.headers['content-security-policy']).not.toContain('unsafe-inline');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.body).toContain('<meta name="rackboot-states" content="discovered,ready,provisioning,booting-installer,installing,installed,');
    }
    const js = await f.app.inject({ method: 'GET', url: '/ui/app.js' });
    expect([js.statusCode, js.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    const again = await f.app.inject({ method: 'GET', url: '/ui/app.js', headers: { 'if-none-match': String(js.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('serves nothing else under /ui/', async () => {
    for (const url of ['/ui/nope.js', '/ui/..%2f..%2fpackage.json']) {
      const r = await f.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
    }
    // Deeper paths match no dashboard route and fall to the API gate.
    const deep = await f.app.inject({ method: 'GET', url: '/ui/%2e%2e/server/service.ts' });
    expect([401, 404]).toContain(deep.statusCode);
    expect(deep.body).not.toContain('startService');
  });

  it('keeps no browser-side code that writes HTML from strings', async () => {
    for (const file of ['app.js', 'api.js', 'dom.js']) {
      const body = (await f.app.inject({ method: 'GET', url: `/ui/${file}` })).body;
      expect(body, file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    }
  });
});

describe('dashboard sessions', () => {
  it('exchanges a bearer token for a cookie that reads the API and follows the token', async () => {
    const cookie = await signIn('viewer');
    const list = await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: { cookie } });
    expect(list.statusCode).toBe(200);
    expect((list.json() as { total: number }).total).toBe(1);
    expect((await f.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie } })).json()).toEqual({ name: 'test-viewer', role: 'viewer' });
    // The viewer's cookie is still a viewer: no writes.
    const write = await f.app.inject({ method: 'POST', url: '/api/v1/machines', headers: { cookie, 'x-rackboot-csrf': '1' }, payload: { name: 'x', macs: ['52:54:00:00:00:09'] } });
    expect(write.statusCode).toBe(403);
    // Revoking the token ends the session at once.
    await f.store.apiTokens.revoke('test-viewer');
    const after = await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(after.json()).toMatchObject({ detail: 'the dashboard session has ended or its token was revoked; sign in again' });
  });

  it('refuses cookie writes without the CSRF header, and unknown or forged cookies', async () => {
    const cookie = await signIn('admin');
    const patch = { method: 'PATCH' as const, url: '/api/v1/machines/00000000-0000-0000-0000-000000000000', payload: { rack: 'r1' } };
    const bare = await f.app.inject({ ...patch, headers: { cookie } });
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ detail: 'writes with a session cookie must carry the header X-Rackboot-CSRF' });
    expect((await f.app.inject({ ...patch, headers: { cookie, 'x-rackboot-csrf': '1' } })).statusCode).toBe(404); // through the gate
    for (const forged of ['rackboot_session=', 'rackboot_session=AAAA', `rackboot_session=${f.adminToken}`, 'other=1']) {
      const r = await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: { cookie: forged } });
      expect(r.statusCode, forged).toBe(401);
    }
  });

  it('signs out: the cookie is cleared and dead', async () => {
    const cookie = await signIn('viewer');
    const out = await f.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie, 'x-rackboot-csrf': '1' } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^rackboot_session=; .*Max-Age=0/);
    expect((await f.app.inject({ method: 'GET', url: '/api/v1/machines', headers: { cookie } })).statusCode).toBe(401);
  });

  it('refuses a bad token at sign-in with 401 and sets no cookie', async () => {
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/session', headers: { authorization: 'Bearer rbt_wrong' } });
    expect(r.statusCode).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
  });
});

describe('BrowserSessions', () => {
  it('expires sessions after their lifetime and evicts the oldest beyond the cap', () => {
    let now = 1_000_000;
    const s = new BrowserSessions(60_000, 3, () => now);
    const a = s.open('sha-a');
    expect(s.lookup(a)).toBe('sha-a');
    now += 60_000;
    expect(s.lookup(a)).toBeNull();
    const ids = ['1', '2', '3', '4'].map((x) => s.open(`sha-${x}`));
    expect(ids.map((id) => s.lookup(id))).toEqual([null, 'sha-2', 'sha-3', 'sha-4']);
    expect(new Set(ids).size).toBe(4);
  });

  it('reads one cookie out of a Cookie header', () => {
    expect(cookieValue('a=1; rackboot_session=xyz; b=2', 'rackboot_session')).toBe('xyz');
    expect(cookieValue('xrackboot_session=1', 'rackboot_session')).toBeNull();
    expect(cookieValue(undefined, 'rackboot_session')).toBeNull();
  });
});
