// RedfishClient against a real HTTPS fixture server on 127.0.0.1: sessions and Basic, TLS trust
// (CA bundle, pin, TOFU), retries and Retry-After, the If-Match ladder, task monitors, errors.

import { afterEach, describe, expect, it } from 'vitest';
import { RedfishClient, RedfishError, isRedfishError, normalizeFingerprint, parseRetryAfter } from '../../redfish/index.js';
import type { TofuInfo } from '../../redfish/index.js';
import { RedfishFixtureServer, redfishError } from '../support/redfish-fixture-server.js';
import { harness, recordingLogger, testPki, type Harness } from '../support/redfish-harness.js';

let h: Harness | undefined;
let extra: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const e of extra) await e.close();
  extra = [];
});

async function rejection(p: Promise<unknown>): Promise<RedfishError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RedfishError) return err;
    throw err;
  }
  throw new Error('expected a RedfishError');
}

describe('construction', () => {
  it('refuses http:// and bad URLs: never talks to a BMC in clear text', () => {
    expect(() => new RedfishClient({ baseUrl: 'http://10.0.0.5', username: 'a', password: 'b', tls: {} })).toThrow(/https/);
    try {
      new RedfishClient({ baseUrl: 'not a url', username: 'a', password: 'b', tls: {} });
    } catch (err) {
      expect(isRedfishError(err, 'RB_REDFISH_INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('rejects a malformed pin instead of silently ignoring it', () => {
    expect(() => new RedfishClient({ baseUrl: 'https://10.0.0.5', username: 'a', password: 'b', tls: { pinSha256: 'abc' } })).toThrow(/SHA-256/);
    expect(normalizeFingerprint('ab'.repeat(32))).toBe(Array(32).fill('AB').join(':'));
  });
});

describe('authentication', () => {
  it('creates a session via Links.Sessions, sends X-Auth-Token, and deletes the session on close', async () => {
    h = await harness({ fixture: 'dell-idrac9' });
    const res = await h.client.getResource('/redfish/v1/Systems/System.Embedded.1');
    expect(res.body['Model']).toBe('PowerEdge R6515');
    expect(h.client.authKind).toBe('session');
    // iDRAC 3.x publishes its session collection at /redfish/v1/Sessions (sushy oem_dell root sample).
    const login = h.server.requestsTo('POST', '/redfish/v1/Sessions');
    expect(login).toHaveLength(1);
    expect(login[0]!.body).toEqual({ UserName: 'admin', Password: 'secret' });
    const get = h.server.requestsTo('GET', '/redfish/v1/Systems/System.Embedded.1')[0]!;
    expect(get.headers['x-auth-token']).toMatch(/^[0-9a-f]{32}$/);
    expect(get.headers['authorization']).toBeUndefined();
    expect(get.headers['odata-version']).toBe('4.0');
    expect(get.headers['accept-encoding']).toBe('identity');
    expect(h.server.sessions.size).toBe(1);
    await h.client.close();
    expect(h.server.sessionsDeleted).toBe(1);
    expect(h.server.sessions.size).toBe(0);
    await h.client.close(); // idempotent
    expect(h.server.sessionsDeleted).toBe(1);
    expect((await rejection(h.client.get('/redfish/v1/Systems'))).code).toBe('RB_REDFISH_CLOSED');
  });

  it('logs in again once when the session expires (401) and retries the request', async () => {
    h = await harness({ fixture: 'lenovo-xcc', etags: 'bare' });
    await h.client.get('/redfish/v1/Systems/1');
    h.server.expireSessions();
    const res = await h.client.get('/redfish/v1/Systems/1');
    expect(res.status).toBe(200);
    expect(h.server.sessionsCreated).toBe(2);
    expect(h.server.requestsTo('GET', '/redfish/v1/Systems/1').map((r) => r.status)).toEqual([200, 401, 200]);
    await h.client.close();
    expect(h.server.sessionsDeleted).toBe(1);
  });

  it('gives up with RB_REDFISH_AUTH when the fresh session is rejected too', async () => {
    h = await harness({ fixture: 'lenovo-xcc' });
    await h.client.get('/redfish/v1/Systems/1');
    h.server.fail({ method: 'GET', path: '/redfish/v1/Systems/1', status: 401, body: redfishError('Base.1.8.NoValidSession', 'no session'), times: 2 });
    const err = await rejection(h.client.get('/redfish/v1/Systems/1'));
    expect(err.code).toBe('RB_REDFISH_AUTH');
    expect(err.status).toBe(401);
    expect(h.server.sessionsCreated).toBe(2);
  });

  it('falls back to HTTP Basic when the session collection is 404 (sushy-tools has no SessionService)', async () => {
    h = await harness({ fixture: 'sushy-tools', sessions: 'absent' });
    const res = await h.client.get('/redfish/v1/Systems');
    expect(res.status).toBe(200);
    expect(h.client.authKind).toBe('basic');
    expect(h.server.requestsTo('POST', '/redfish/v1/SessionService/Sessions')[0]!.status).toBe(404);
    const get = h.server.requestsTo('GET', '/redfish/v1/Systems')[0]!;
    expect(get.headers['authorization']).toBe(`Basic ${Buffer.from('admin:secret').toString('base64')}`);
    await h.client.close();
    expect(h.server.requestsTo('DELETE', /Sessions/)).toHaveLength(0);
  });

  it('falls back to HTTP Basic on 405 from the session collection (iDRAC8)', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', sessions: 'not-allowed' });
    await h.client.get('/redfish/v1/Systems');
    expect(h.client.authKind).toBe('basic');
  });

  it('uses Basic when sessions are refused with 401 but Basic works (Supermicro without licence)', async () => {
    h = await harness({ fixture: 'supermicro' });
    h.server.fail({ method: 'POST', path: '/redfish/v1/SessionService/Sessions', status: 401, body: redfishError('Base.1.8.InsufficientPrivilege', 'licence required') });
    await h.client.get('/redfish/v1/Systems/1');
    expect(h.client.authKind).toBe('basic');
  });

  it('reports wrong credentials as RB_REDFISH_AUTH with the BMC message', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' }, { password: 'wrong' });
    const err = await rejection(h.client.get('/redfish/v1/Systems'));
    expect(err.code).toBe('RB_REDFISH_AUTH');
    expect(err.status).toBe(401);
    expect(err.hasMessageId('NoValidSession')).toBe(true);
    expect(h.server.sessionsCreated).toBe(0);
  });

  it('keeps a session without Location usable and warns that it cannot be deleted', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', sessions: 'no-location' });
    await h.client.get('/redfish/v1/Systems');
    expect(h.client.authKind).toBe('session');
    expect(h.logger.lines.some((l) => l.level === 'warn' && /without a Location/.test(l.msg))).toBe(true);
  });

  it('accepts 204 + X-Auth-Token as a login (DMTF Mockup Server behaviour)', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', sessionStatus: 204 });
    await h.client.get('/redfish/v1/Systems');
    expect(h.client.authKind).toBe('session');
    await h.client.close();
    expect(h.server.sessionsDeleted).toBe(1);
  });

  it('logs in once for concurrent first requests', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    await Promise.all([h.client.get('/redfish/v1/Systems'), h.client.get('/redfish/v1/Managers'), h.client.get('/redfish/v1/Chassis')]);
    expect(h.server.sessionsCreated).toBe(1);
  });
});

describe('TLS', () => {
  it('verifies the BMC against a CA bundle', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    expect((await h.client.serviceRoot()).uuid).toBe('92384634-2938-2342-8820-489239905423');
  });

  it('rejects a BMC signed by another CA (RB_REDFISH_TLS) and sends no credentials', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' }, { tls: { caBundle: testPki().otherCa.certPem }, retries: 0 });
    const err = await rejection(h.client.get('/redfish/v1/Systems'));
    expect(err.code).toBe('RB_REDFISH_TLS');
    expect(h.server.requests).toHaveLength(0);
  });

  it('rejects a self-signed BMC by default (no silent insecure mode)', async () => {
    const p = testPki();
    h = await harness({ fixture: 'dmtf-rackmount1', tls: { certPem: p.selfSigned.certPem, keyPem: p.selfSigned.keyPem } }, { tls: {}, retries: 0 });
    expect((await rejection(h.client.serviceRoot())).code).toBe('RB_REDFISH_TLS');
  });

  it('accepts a self-signed BMC whose leaf SHA-256 matches the pin (any hex spelling)', async () => {
    const p = testPki();
    const pin = p.selfSigned.fingerprint256.replace(/:/g, '').toLowerCase();
    h = await harness({ fixture: 'dmtf-rackmount1', tls: { certPem: p.selfSigned.certPem, keyPem: p.selfSigned.keyPem } }, { tls: { pinSha256: pin } });
    await h.client.get('/redfish/v1/Systems');
    expect(h.client.pinnedFingerprint).toBe(p.selfSigned.fingerprint256);
  });

  it('rejects a pin mismatch with RB_REDFISH_TLS_PIN before any request byte is sent', async () => {
    const p = testPki();
    h = await harness({ fixture: 'dmtf-rackmount1', tls: { certPem: p.selfSigned.certPem, keyPem: p.selfSigned.keyPem } }, { tls: { pinSha256: p.bmc.fingerprint256 }, retries: 2 });
    const err = await rejection(h.client.get('/redfish/v1/Systems'));
    expect(err.code).toBe('RB_REDFISH_TLS_PIN');
    expect(err.message).toContain(p.selfSigned.fingerprint256);
    expect(h.server.requests).toHaveLength(0); // not even the unauthenticated service root
    expect(h.sleeps).toEqual([]); // never retried
  });

  it('checks the pin on top of the CA chain when both are given', async () => {
    const p = testPki();
    h = await harness({ fixture: 'dmtf-rackmount1' }, { tls: { caBundle: p.ca.certPem, pinSha256: p.selfSigned.fingerprint256 }, retries: 0 });
    expect((await rejection(h.client.serviceRoot())).code).toBe('RB_REDFISH_TLS_PIN');
  });

  it('trusts on first use only when allowed, reports the fingerprint, then holds the BMC to it', async () => {
    const p = testPki();
    const seen: TofuInfo[] = [];
    const viaOption: TofuInfo[] = [];
    h = await harness(
      { fixture: 'dmtf-rackmount1', tls: { certPem: p.selfSigned.certPem, keyPem: p.selfSigned.keyPem } },
      { tls: { allowTofu: true, onTofu: (i) => viaOption.push(i) }, retries: 0 },
    );
    h.client.on('tofu', (info) => seen.push(info));
    await h.client.get('/redfish/v1/Systems');
    await h.client.get('/redfish/v1/Managers');
    expect(seen).toHaveLength(1);
    expect(viaOption).toHaveLength(1);
    expect(seen[0]!.fingerprintSha256).toBe(p.selfSigned.fingerprint256);
    expect(seen[0]!.subject).toContain('CN=127.0.0.1');
    expect(h.client.pinnedFingerprint).toBe(p.selfSigned.fingerprint256);

    // The BMC now presents another certificate (e.g. a man in the middle): refused.
    const other = await RedfishFixtureServer.start({ fixture: 'dmtf-rackmount1', tls: { certPem: p.bmc.certPem, keyPem: p.bmc.keyPem } });
    extra.push(other);
    const client2 = new RedfishClient({ baseUrl: other.url, username: 'admin', password: 'secret', tls: { pinSha256: h.client.pinnedFingerprint! }, retries: 0 });
    extra.push(client2);
    expect((await rejection(client2.serviceRoot())).code).toBe('RB_REDFISH_TLS_PIN');
  });
});

describe('retries and backoff', () => {
  it('honours Retry-After seconds on 503', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    h.server.fail({ method: 'GET', path: '/redfish/v1/Systems', status: 503, headers: { 'Retry-After': '7' }, times: 2 });
    const res = await h.client.get('/redfish/v1/Systems');
    expect(res.status).toBe(200);
    expect(h.sleeps).toEqual([7000, 7000]);
  });

  it('honours Retry-After as an HTTP-date', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    const when = new Date(Date.now() + 30_000).toUTCString();
    h.server.fail({ method: 'GET', path: '/redfish/v1/Systems', status: 503, headers: { 'Retry-After': when } });
    await h.client.get('/redfish/v1/Systems');
    expect(h.sleeps).toHaveLength(1);
    expect(h.sleeps[0]!).toBeGreaterThan(25_000);
    expect(h.sleeps[0]!).toBeLessThanOrEqual(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT'))).toBe(60_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('caps a huge Retry-After', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' }, { maxRetryAfterMs: 5000 });
    h.server.fail({ method: 'GET', path: '/redfish/v1/Systems', status: 503, headers: { 'Retry-After': '86400' } });
    await h.client.get('/redfish/v1/Systems');
    expect(h.sleeps).toEqual([5000]);
  });

  it('backs off exponentially with jitter on 5xx, bounded by the retry budget', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' }, { retries: 3, retryBaseDelayMs: 100 });
    await h.client.get('/redfish/v1/Systems'); // log in first
    h.server.fail({ method: 'GET', path: '/redfish/v1/Managers', status: 500, body: redfishError('Base.1.8.InternalError', 'boom'), times: 10 });
    const err = await rejection(h.client.get('/redfish/v1/Managers'));
    expect(err.code).toBe('RB_REDFISH_HTTP');
    expect(err.status).toBe(500);
    expect(h.server.requestsTo('GET', '/redfish/v1/Managers')).toHaveLength(4); // 1 + 3 retries
    expect(h.sleeps).toHaveLength(3);
    h.sleeps.forEach((d, i) => {
      const step = 100 * 2 ** i;
      expect(d).toBeGreaterThanOrEqual(step / 2);
      expect(d).toBeLessThanOrEqual(step);
    });
  });

  it('retries a GET after a connection reset', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    await h.client.get('/redfish/v1/Systems');
    h.server.fail({ method: 'GET', path: '/redfish/v1/Chassis', status: 'reset' });
    const res = await h.client.get('/redfish/v1/Chassis');
    expect(res.status).toBe(200);
    expect(h.sleeps).toHaveLength(1);
  });

  it('does not retry an action POST that may have reached the BMC', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    await h.client.get('/redfish/v1/Systems');
    const target = '/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset';
    h.server.fail({ method: 'POST', path: target, status: 'reset' });
    const err = await rejection(h.client.post(target, { ResetType: 'On' }));
    expect(err.code).toBe('RB_REDFISH_CONNECTION');
    expect(h.server.requestsTo('POST', target)).toHaveLength(1);
  });

  it('reports an unreachable BMC as RB_REDFISH_CONNECTION after the retries', async () => {
    const srv = await RedfishFixtureServer.start({ fixture: 'dmtf-rackmount1', tls: { certPem: testPki().bmc.certPem, keyPem: testPki().bmc.keyPem } });
    const url = srv.url;
    await srv.close();
    const sleeps: number[] = [];
    const c = new RedfishClient({ baseUrl: url, username: 'a', password: 'b', tls: { caBundle: testPki().ca.certPem }, retries: 2, retryBaseDelayMs: 10, sleep: async (ms) => void sleeps.push(ms) });
    extra.push(c);
    const err = await rejection(c.serviceRoot());
    expect(err.code).toBe('RB_REDFISH_CONNECTION');
    expect(sleeps).toHaveLength(2);
  });

  it('retries the "not ready" 400s the anchors retry (iLO during POST)', async () => {
    h = await harness({ fixture: 'hpe-ilo6' });
    await h.client.get('/redfish/v1/Systems/1');
    h.server.fail({
      method: 'PATCH',
      path: '/redfish/v1/Systems/1',
      status: 400,
      body: { error: { code: 'iLO.0.10.ExtendedInfo', message: 'See @Message.ExtendedInfo for more information.', '@Message.ExtendedInfo': [{ MessageId: 'iLO.2.14.UnableToModifyDuringSystemPOST' }] } },
    });
    const res = await h.client.patch('/redfish/v1/Systems/1', { Boot: { BootSourceOverrideTarget: 'Pxe' } });
    expect(res.status).toBe(204);
    expect(h.sleeps).toHaveLength(1);
  });

  it('times out a hung BMC with RB_REDFISH_TIMEOUT', async () => {
    const net = await import('node:net');
    const accepted: import('node:net').Socket[] = [];
    // Accepts TCP and never answers the TLS handshake.
    const hung = net.createServer((s) => accepted.push(s));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const port = (hung.address() as import('node:net').AddressInfo).port;
    extra.push({
      close: () => {
        for (const s of accepted) s.destroy();
        return new Promise<void>((r) => hung.close(() => r()));
      },
    });
    const c = new RedfishClient({ baseUrl: `https://127.0.0.1:${port}`, username: 'a', password: 'b', tls: { caBundle: testPki().ca.certPem }, timeoutMs: 200, retries: 0 });
    extra.push(c);
    expect((await rejection(c.serviceRoot())).code).toBe('RB_REDFISH_TIMEOUT');
    const pinned = new RedfishClient({ baseUrl: `https://127.0.0.1:${port}`, username: 'a', password: 'b', tls: { pinSha256: testPki().bmc.fingerprint256 }, timeoutMs: 200, retries: 0 });
    extra.push(pinned);
    expect((await rejection(pinned.serviceRoot())).code).toBe('RB_REDFISH_TIMEOUT');
  });
});

describe('If-Match ladder', () => {
  const SYS = '/redfish/v1/Systems/437XR1138R2';

  it('sends the ETag it read; on 412 (stale) reads a fresh one and retries once', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', etags: 'strong' });
    const before = await h.client.getResource(SYS);
    expect(before.etag).toMatch(/^"[0-9a-f]{16}"$/);
    h.server.mutate(SYS, { AssetTag: 'changed-behind-our-back' });
    const current = h.server.etagOf(SYS);
    expect(current).not.toBe(before.etag);
    await h.client.patch(SYS, { Boot: { BootSourceOverrideTarget: 'Pxe' } }, { etag: before.etag! });
    const patches = h.server.requestsTo('PATCH', SYS);
    expect(patches.map((p) => [p.status, p.headers['if-match']])).toEqual([
      [412, before.etag],
      [204, current],
    ]);
    expect(h.server.requestsTo('GET', SYS)).toHaveLength(2);
  });

  it('fetches an ETag first when the BMC requires If-Match (428 otherwise)', async () => {
    h = await harness({ fixture: 'supermicro', requireIfMatch: true });
    await h.client.patch('/redfish/v1/Systems/1', { AssetTag: 'x' }, { requireIfMatch: true });
    const p = h.server.requestsTo('PATCH', '/redfish/v1/Systems/1');
    expect(p).toHaveLength(1);
    expect(p[0]!.headers['if-match']).toMatch(/^"/);
  });

  it('recovers from 428 when the caller did not know If-Match was required', async () => {
    h = await harness({ fixture: 'lenovo-xcc', etags: 'bare', requireIfMatch: true });
    await h.client.patch('/redfish/v1/Systems/1', { AssetTag: 'x' });
    expect(h.server.requestsTo('PATCH', '/redfish/v1/Systems/1').map((r) => [r.status, r.headers['if-match']])).toEqual([
      [428, undefined],
      [204, expect.stringMatching(/^[0-9a-f]{16}$/)],
    ]);
  });

  it('converts a weak ETag to its strong form (sushy ladder step)', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', etagBug: 'wants-strong' });
    const r = await h.client.getResource(SYS);
    expect(r.etag).toMatch(/^W\//);
    await h.client.patch(SYS, { AssetTag: 'y' }, { etag: r.etag! });
    const tags = h.server.requestsTo('PATCH', SYS).map((p) => p.headers['if-match']);
    expect(tags).toEqual([r.etag, r.etag!.slice(2)]);
  });

  it('falls to If-Match: * when the BMC matches nothing else', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', etagBug: 'star-only', requireIfMatch: true });
    const r = await h.client.getResource(SYS);
    await h.client.patch(SYS, { AssetTag: 'z' }, { etag: r.etag!, requireIfMatch: true });
    const tags = h.server.requestsTo('PATCH', SYS).map((p) => p.headers['if-match']);
    expect(tags[tags.length - 1]).toBe('*');
    expect(tags).not.toContain(undefined);
  });

  it('finally drops If-Match when it is not required; never sends If-None-Match', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', etagBug: 'nothing' });
    const r = await h.client.getResource(SYS);
    await h.client.patch(SYS, { AssetTag: 'w' }, { etag: r.etag! });
    const patches = h.server.requestsTo('PATCH', SYS);
    expect(patches[patches.length - 1]!.headers['if-match']).toBeUndefined();
    expect(patches[patches.length - 1]!.status).toBe(204);
    expect(patches.length).toBeLessThanOrEqual(5);
    expect(h.server.requests.some((q) => q.headers['if-none-match'] !== undefined)).toBe(false);
  });

  it('gives up with RB_REDFISH_PRECONDITION when If-Match is required and nothing matches', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', etagBug: 'nothing', requireIfMatch: true });
    const r = await h.client.getResource(SYS);
    const err = await rejection(h.client.patch(SYS, { AssetTag: 'v' }, { etag: r.etag!, requireIfMatch: true }));
    expect(err.code).toBe('RB_REDFISH_PRECONDITION');
    expect(err.status).toBe(412);
    expect(err.hasMessageId('PreconditionFailed')).toBe(true);
    expect(h.server.requestsTo('PATCH', SYS).length).toBeLessThanOrEqual(5);
  });

  it('never sends If-Match on action POSTs (iDRAC10 answers 412 to it)', async () => {
    h = await harness({ fixture: 'dell-idrac10', etags: 'weak', etagHeader: false, rejectIfMatchOnActions: true });
    await h.client.getResource('/redfish/v1/Systems/System.Embedded.1/VirtualMedia/1');
    const res = await h.client.post('/redfish/v1/Systems/System.Embedded.1/VirtualMedia/1/Actions/VirtualMedia.InsertMedia', { Image: 'https://10.0.0.9/a.iso' });
    expect(res.status).toBe(204);
  });
});

describe('tasks (202 Accepted)', () => {
  it('polls the task monitor, honouring Retry-After, until the final response', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1', resetTaskPolls: 3 });
    const res = await h.client.post('/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset', { ResetType: 'ForceRestart' });
    expect(res.status).toBe(202);
    expect(res.task?.task?.state).toBe('Completed');
    expect(res.task?.polls).toBe(4);
    expect(res.task?.messages.map((m) => m.message)).toEqual(['Reset ForceRestart done']);
    // First wait is the default interval (no Retry-After on the 202), then the monitor's Retry-After: 1.
    expect(h.sleeps).toEqual([1000, 1000, 1000, 1000]);
  });

  it('fails with RB_REDFISH_TASK_FAILED and the task messages when the task ends in Exception', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    const monitor = h.server.createTask(1, 'Exception', [{ MessageId: 'Base.1.8.InternalError', Message: 'The firmware image is corrupt.', Severity: 'Critical' }]);
    await h.client.get('/redfish/v1/Systems');
    const err = await rejection(h.client.waitForTask({ status: 202, headers: { location: monitor }, body: undefined }));
    expect(err.code).toBe('RB_REDFISH_TASK_FAILED');
    expect(err.message).toContain('The firmware image is corrupt.');
    expect(err.messages[0]!.messageId).toBe('Base.1.8.InternalError');
  });

  it('times out a task that never finishes', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' }, { taskTimeoutMs: 0 });
    const monitor = h.server.createTask(100, 'Completed');
    const err = await rejection(h.client.waitForTask({ status: 202, headers: { location: monitor }, body: undefined }));
    expect(err.code).toBe('RB_REDFISH_TIMEOUT');
  });

  it('treats a 202 without Location or Task as a bad response', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    expect((await rejection(h.client.waitForTask({ status: 202, headers: {}, body: undefined }))).code).toBe('RB_REDFISH_BAD_RESPONSE');
  });

  it('waits out the 404 iDRAC gives for a job it has just created', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    const monitor = h.server.createTask(0, 'Completed');
    h.server.fail({ method: 'GET', path: monitor, status: 404, times: 2 });
    await h.client.get('/redfish/v1/Systems');
    const r = await h.client.waitForTask({ status: 202, headers: { location: monitor }, body: undefined });
    expect(r.task?.state).toBe('Completed');
  });
});

describe('errors', () => {
  it('carries status, the Redfish code and the ExtendedInfo messages', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    const err = await rejection(h.client.get('/redfish/v1/NoSuchThing'));
    expect(err).toBeInstanceOf(RedfishError);
    expect(err.code).toBe('RB_REDFISH_HTTP');
    expect(err.status).toBe(404);
    expect(err.method).toBe('GET');
    expect(err.redfishCode).toBe('Base.1.8.ResourceMissingAtURI');
    expect(err.hasMessageId('ResourceMissingAtURI')).toBe(true);
  });

  it('does not follow a Location outside the BMC origin (no credential leak)', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    await h.client.get('/redfish/v1/Systems');
    const err = await rejection(h.client.waitForTask({ status: 202, headers: { location: 'https://evil.example/redfish/v1/TaskMonitors/1' }, body: undefined }));
    expect(err.code).toBe('RB_REDFISH_BAD_RESPONSE');
  });

  it('logs through the given logger without ever logging the password', async () => {
    const logger = recordingLogger();
    h = await harness({ fixture: 'dmtf-rackmount1' }, { logger, password: 'secret' });
    await h.client.get('/redfish/v1/Systems');
    await h.client.close();
    expect(logger.lines.length).toBeGreaterThan(0);
    expect(logger.lines.some((l) => l.msg.includes('secret'))).toBe(false);
  });
});

describe('@Redfish.Settings', () => {
  it('PATCHes the SettingsObject (with its own ETag) when the resource declares one', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    const bios = '/redfish/v1/Systems/437XR1138R2/Bios';
    const r = await h.client.patchSettings(bios, { Attributes: { ProcTurboMode: 'Disabled' } });
    expect(r).toMatchObject({ via: 'settings', path: `${bios}/Settings` });
    expect(h.server.requestsTo('PATCH', bios)).toHaveLength(0);
    const [patch] = h.server.requestsTo('PATCH', `${bios}/Settings`);
    expect(patch!.headers['if-match']).toMatch(/^"/);
    expect(h.server.resource(`${bios}/Settings`)['Attributes']).toMatchObject({ ProcTurboMode: 'Disabled' });
    // No SupportedApplyTimes on this mockup: asking for one is refused rather than guessed.
    expect((await rejection(h.client.patchSettings(bios, { Attributes: {} }, { applyTime: 'OnReset' }))).code).toBe('RB_REDFISH_UNSUPPORTED');
  });

  it('adds @Redfish.SettingsApplyTime when the apply time is supported (Dell R570 settings)', async () => {
    h = await harness({ fixture: 'dell-idrac10' });
    const sys = '/redfish/v1/Systems/System.Embedded.1';
    await h.client.patchSettings(sys, { AssetTag: 'rack12-u07' }, { applyTime: 'OnReset' });
    expect(h.server.requestsTo('PATCH', `${sys}/Settings`)[0]!.body).toEqual({ AssetTag: 'rack12-u07', '@Redfish.SettingsApplyTime': { ApplyTime: 'OnReset' } });
  });

  it('PATCHes the resource itself when it declares no settings object', async () => {
    h = await harness({ fixture: 'sushy-tools', sessions: 'absent' });
    const sys = '/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef094';
    expect(await h.client.patchSettings(sys, { AssetTag: 'x' })).toMatchObject({ via: 'resource', path: sys });
  });
});

describe('transport details', () => {
  it('retries once without Accept-Encoding: identity on 406 (HPE Gen10 Plus)', async () => {
    h = await harness({ fixture: 'hpe-ilo6' });
    await h.client.get('/redfish/v1/Systems/1');
    h.server.fail({ method: 'GET', path: '/redfish/v1/Managers/1', status: 406 });
    expect((await h.client.get('/redfish/v1/Managers/1')).status).toBe(200);
    expect(h.server.requestsTo('GET', '/redfish/v1/Managers/1').map((r) => [r.status, r.headers['accept-encoding']])).toEqual([
      [406, 'identity'],
      [200, expect.not.stringMatching(/^identity$/)],
    ]);
  });

  it('authMode basic skips the session service entirely', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' }, { authMode: 'basic' });
    await h.client.get('/redfish/v1/Systems');
    expect(h.client.authKind).toBe('basic');
    expect(h.server.sessionsCreated).toBe(0);
  });

  it('authMode session does not fall back to Basic', async () => {
    h = await harness({ fixture: 'sushy-tools', sessions: 'absent' }, { authMode: 'session' });
    const err = await rejection(h.client.get('/redfish/v1/Systems'));
    expect(err.code).toBe('RB_REDFISH_HTTP');
    expect(err.status).toBe(404);
  });
});

