import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationHeader, listMachines, MaasClient, MaasConfigError, parseApiKey, readVersion, whoAmI, type MaasApiKey } from '../../maas/index.js';
import { createMaasStandin, type MaasStandin } from '../support/maas-standin/index.js';
import { splitHeader } from '../support/maas-standin/oauth.js';
import { clientFor, errorFixture } from '../support/maas-standin/testkit.js';

const KEY = 'aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc';

function keyOf(s: string): MaasApiKey {
  const r = parseApiKey(s);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('API key parsing', () => {
  it('splits consumer:token:secret and trims whitespace', () => {
    expect(parseApiKey(`  ${KEY}\n`)).toEqual({
      ok: true,
      value: { consumerKey: 'a'.repeat(18), tokenKey: 'b'.repeat(18), tokenSecret: 'c'.repeat(32) },
    });
  });

  it.each([
    ['', 'the key is empty'],
    ['abc', "found 1 part separated by ':', expected 3"],
    ['a:b', "found 2 parts separated by ':', expected 3"],
    ['a:b:c:d', "found 4 parts separated by ':', expected 3"],
    ['a::c', 'the token key is empty'],
    [':b:c', 'the consumer key is empty'],
    ['a:b:', 'the token secret is empty'],
    ['a:b:se cret', 'the token secret contains characters MAAS never issues'],
  ])('refuses %j with a clear error', (raw, why) => {
    const r = parseApiKey(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('RB_MAAS_BAD_KEY');
      expect(r.error.message).toBe(`MAAS API key must be 'consumer_key:token_key:token_secret': ${why}`);
      expect(r.error.message).not.toContain('se cret');
    }
  });

  it('a client with a bad key fails as a value from create() and throws MaasConfigError from new', () => {
    const r = MaasClient.create({ baseUrl: 'http://127.0.0.1:1/MAAS', apiKey: 'nope' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('RB_MAAS_BAD_KEY');
    expect(() => new MaasClient({ baseUrl: 'http://127.0.0.1:1/MAAS', apiKey: 'nope' })).toThrow(MaasConfigError);
    const u = MaasClient.create({ baseUrl: 'ftp://maas/', apiKey: KEY });
    expect(u.ok ? null : u.error.code).toBe('RB_MAAS_BAD_CONFIG');
  });

  it('accepts the base URL with or without the API root', () => {
    for (const b of ['http://maas:5240/MAAS', 'http://maas:5240/MAAS/', 'http://maas:5240/MAAS/api/2.0', 'http://maas:5240/MAAS/api/2.0/']) {
      expect(new MaasClient({ baseUrl: b, apiKey: KEY }).apiRoot.toString()).toBe('http://maas:5240/MAAS/api/2.0/');
    }
  });
});

describe('OAuth PLAINTEXT header', () => {
  it('has the format MAAS accepts, with the signature "&<token_secret>" percent-encoded', () => {
    const h = authorizationHeader(keyOf(KEY), { now: 1_700_000_000_999, nonce: 'n0nce' });
    expect(h).toBe(
      'OAuth realm="", oauth_version="1.0", oauth_signature_method="PLAINTEXT", ' +
        `oauth_consumer_key="${'a'.repeat(18)}", oauth_token="${'b'.repeat(18)}", ` +
        `oauth_signature="%26${'c'.repeat(32)}", oauth_nonce="n0nce", oauth_timestamp="1700000000"`,
    );
    // What MAAS's header parser (piston _split_header) reads back.
    expect(splitHeader(h.slice(6))).toEqual({
      oauth_version: '1.0',
      oauth_signature_method: 'PLAINTEXT',
      oauth_consumer_key: 'a'.repeat(18),
      oauth_token: 'b'.repeat(18),
      oauth_signature: '&' + 'c'.repeat(32),
      oauth_nonce: 'n0nce',
      oauth_timestamp: '1700000000',
    });
  });

  it('draws a fresh 128-bit nonce for every header', () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const p = splitHeader(authorizationHeader(keyOf(KEY)).slice(6))!;
      expect(p['oauth_nonce']).toMatch(/^[0-9a-f]{32}$/);
      nonces.add(p['oauth_nonce']!);
    }
    expect(nonces.size).toBe(2000);
  });
});

describe('OAuth against the stand-in', () => {
  let s: MaasStandin;
  beforeAll(async () => {
    s = await createMaasStandin();
    s.addMachine({ hostname: 'alpha' });
  });
  afterAll(async () => {
    await s.stop();
  });

  // A fresh connection per request (no pool), so a restart cannot leave a dead keep-alive socket behind.
  const raw = (path: string, authorization?: string): Promise<{ status: number; body: string; type: string | null }> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(`${s.apiUrl}${path}`, { agent: false, headers: authorization === undefined ? {} : { Authorization: authorization } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), type: res.headers['content-type'] ?? null }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });

  it('signs every request with its own nonce and a current timestamp (captured server-side)', async () => {
    const { client } = clientFor(s);
    const before = s.requests.length;
    const t0 = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 5; i++) expect((await listMachines(client)).ok).toBe(true);
    const t1 = Math.floor(Date.now() / 1000);
    const seen = s.requests.slice(before);
    expect(seen).toHaveLength(5);
    const nonces = seen.map((r) => r.oauth?.['oauth_nonce']);
    expect(new Set(nonces).size).toBe(5);
    for (const r of seen) {
      expect(r.username).toBe('admin');
      expect(r.oauth?.['oauth_signature_method']).toBe('PLAINTEXT');
      expect(r.oauth?.['oauth_signature']).toBe('&' + s.adminKey.split(':')[2]);
      const ts = Number(r.oauth?.['oauth_timestamp']);
      expect(ts).toBeGreaterThanOrEqual(t0);
      expect(ts).toBeLessThanOrEqual(t1);
    }
    client.close();
  });

  it('rejects a replayed nonce with MAAS\'s "Nonce already used"', async () => {
    const h = authorizationHeader(keyOf(s.adminKey));
    expect((await raw('machines/', h)).status).toBe(200);
    const again = await raw('machines/', h);
    const nonce = splitHeader(h.slice(6))!['oauth_nonce'];
    expect(again).toEqual({ status: 401, body: `Authorization Error: 'Nonce already used: ${nonce}'`, type: 'text/plain; charset=utf-8' });
  });

  it('still rejects the replay after a MAAS restart (nonces live in the database)', async () => {
    const h = authorizationHeader(keyOf(s.adminKey));
    expect((await raw('machines/', h)).status).toBe(200);
    await s.restart();
    expect((await raw('machines/', h)).status).toBe(401);
  });

  it('rejects a timestamp older than 300 s and accepts one inside the window', async () => {
    const stale = clientFor(s, { now: () => s.clock.now() - 301_000 });
    const r = await listMachines(stale.client);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('RB_MAAS_UNAUTHORIZED');
      expect(r.error.httpStatus).toBe(401);
      expect(r.error.body).toMatch(/^Authorization Error: 'Expired timestamp: given \d+ and now \d+ has a greater difference than threshold 300'$/);
      expect(r.error.message).toContain('check this host clock');
      // An authentication failure is not retried.
      expect(r.error.attempts).toBe(1);
    }
    const recent = clientFor(s, { now: () => s.clock.now() - 290_000 });
    expect((await listMachines(recent.client)).ok).toBe(true);
    stale.client.close();
    recent.client.close();
  });

  it('answers a wrong token with MAAS\'s 401 body', async () => {
    const [consumer, , secret] = s.adminKey.split(':');
    const expected = errorFixture('unauthorized-invalid-token');
    const { client } = clientFor(s, { apiKey: `${consumer}:K6bhJZXCFKWFTfQTk5:${secret}` });
    const r = await listMachines(client);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('RB_MAAS_UNAUTHORIZED');
      expect(r.error.httpStatus).toBe(expected.status);
      expect(r.error.body).toBe(expected.body);
      expect(r.error.message).toContain('unknown to MAAS or was revoked');
    }
    client.close();
  });

  it('answers an unknown consumer, a wrong secret, a revoked key and no key at all with 401', async () => {
    const [consumer, token] = s.userKey.split(':');
    const cases: [string, RegExp][] = [
      ['zzzzzzzzzzzzzzzzzz:yyyyyyyyyyyyyyyyyy:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', /^Authorization Error: Invalid API key\.$/],
      [`${consumer}:${token}:wrongwrongwrongwrongwrongwrong12`, /^Authorization Error: 'Invalid signature\. Expected signature base string: &/],
    ];
    for (const [key, body] of cases) {
      const r = await raw('machines/', authorizationHeader(keyOf(key)));
      expect(r.status).toBe(401);
      expect(r.body).toMatch(body);
    }
    const revoked = s.state.addToken('user1');
    const ok1 = await raw('users/?op=whoami', authorizationHeader(keyOf(revoked)));
    expect(ok1.status).toBe(200);
    s.state.revokeToken(revoked);
    expect((await raw('users/?op=whoami', authorizationHeader(keyOf(revoked)))).status).toBe(401);
    expect(await raw('machines/')).toMatchObject({ status: 401, body: 'Forbidden' });
  });

  it('answers a header missing an oauth_* parameter with 400 "Bad Request: ..."', async () => {
    const h = authorizationHeader(keyOf(s.adminKey)).replace(/, oauth_nonce="[^"]*"/, '');
    const r = await raw('machines/', h);
    expect(r.status).toBe(errorFixture('bad-request-missing-oauth-param').status);
    expect(r.body).toBe('Bad Request: Parameter not found: oauth_nonce');
  });

  it('accepts the bare "&secret" signature the MAAS docs\' curl example sends', async () => {
    const h = authorizationHeader(keyOf(s.adminKey)).replace(/oauth_signature="%26/, 'oauth_signature="&');
    expect((await raw('machines/', h)).status).toBe(200);
  });

  it('serves version/ anonymously and whoami with the key', async () => {
    expect((await raw('version/')).status).toBe(200);
    const { client } = clientFor(s, { admin: false });
    expect(await readVersion(client)).toMatchObject({ ok: true, value: { version: '3.6.5' } });
    expect(await whoAmI(client)).toMatchObject({ ok: true, value: { username: 'user1', is_superuser: false } });
    client.close();
  });
});
