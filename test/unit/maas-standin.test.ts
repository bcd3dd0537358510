// The stand-in's own faithfulness checks: bodies and headers pinned to the MAAS fixtures, form-only
// bodies, events on transitions, restart semantics. (Client behaviour is tested in maas-*.test.ts.)

import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizationHeader, parseApiKey } from '../../maas/index.js';
import { createMaasStandin, LEVEL, S, type MaasStandin } from '../support/maas-standin/index.js';
import { errorFixture } from '../support/maas-standin/testkit.js';

let s: MaasStandin;
beforeAll(async () => {
  s = await createMaasStandin();
});
afterAll(async () => {
  await s.stop();
});

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(method: string, path: string, body?: { type: string; data: string }, key = s.adminKey): Promise<RawReply> {
  const k = parseApiKey(key);
  if (!k.ok) throw new Error(k.error.message);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: authorizationHeader(k.value, { now: s.clock.now() }) };
    if (body !== undefined) {
      headers['Content-Type'] = body.type;
      headers['Content-Length'] = String(Buffer.byteLength(body.data));
    }
    const req = httpRequest(`${s.apiUrl}${path}`, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body?.data);
  });
}

describe('MAAS stand-in', () => {
  it('ignores a JSON body where MAAS reads request.POST (deploy, power_on)', async () => {
    const m = s.addMachine();
    const ud = Buffer.from('#cloud-config\n').toString('base64');
    const r = await call('POST', `machines/${m.system_id}/?op=deploy`, { type: 'application/json', data: JSON.stringify({ distro_series: 'noble', user_data: ud, hwe_kernel: 'ga-24.04' }) });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status_name: 'Deploying', osystem: 'ubuntu', distro_series: 'jammy', hwe_kernel: null });
    expect(s.userData(m.system_id)).toBeNull();
    const p = await call('POST', `machines/${m.system_id}/?op=power_on`, { type: 'application/json', data: JSON.stringify({ user_data: ud }) });
    expect(p.status).toBe(200);
    expect(s.userData(m.system_id)).toBeNull();
    // The same fields as a form do arrive.
    const f = await call('POST', `machines/${m.system_id}/?op=power_on`, { type: 'application/x-www-form-urlencoded', data: `user_data=${encodeURIComponent(ud)}` });
    expect(f.status).toBe(200);
    expect(s.userData(m.system_id)!.toString()).toBe('#cloud-config\n');
  });

  it('answers errors as MAAS does: plain text, status codes and headers from the fixtures', async () => {
    const m = s.addMachine({ system_id: 'abc123', status: S.DEPLOYED, owner: 'admin' });
    const cases: [string, string, string][] = [
      ['conflict-deploy-wrong-state', 'POST', `machines/${m.system_id}/?op=deploy`],
      ['not-found-machine', 'GET', 'machines/zzzzzz/'],
      ['bad-request-unknown-op', 'POST', 'machines/abc123/?op=deplyo'],
    ];
    for (const [id, method, path] of cases) {
      const fx = errorFixture(id);
      const r = await call(method, path);
      expect([r.status, r.headers['content-type'], r.body]).toEqual([fx.status, fx.headers['Content-Type'], fx.body]);
      expect(r.headers['retry-after']).toBeUndefined();
    }
    const unknownConstraint = errorFixture('bad-request-unknown-constraint');
    const uc = await call('GET', 'machines/?hostnam=foo');
    expect([uc.status, JSON.parse(uc.body)]).toEqual([unknownConstraint.status, unknownConstraint.body]);

    s.faults.retryableConflict(1);
    const rc = await call('GET', 'machines/');
    const rcFx = errorFixture('conflict-retryable-db');
    expect([rc.status, rc.headers['retry-after'], rc.headers['content-type']]).toEqual([409, rcFx.headers['Retry-After'], rcFx.headers['Content-Type']]);
    s.faults.serviceUnavailable(1);
    const su = await call('GET', 'machines/');
    const suFx = errorFixture('service-unavailable-no-rack');
    expect([su.status, su.headers['retry-after'], su.body]).toEqual([503, suFx.headers['Retry-After'], suFx.body]);

    const bad = await call('GET', 'machines/', undefined, 'zzzzzzzzzzzzzzzzzz:yyyyyyyyyyyyyyyyyy:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');
    expect([bad.status, bad.headers['www-authenticate'], bad.body]).toEqual([401, 'OAuth realm="OAuth"', 'Authorization Error: Invalid API key.']);
  });

  it('records an event for every transition, timed by its own clock', async () => {
    const m = s.addMachine({ hostname: 'clocked' });
    const t0 = s.clock.now();
    await call('POST', `machines/${m.system_id}/?op=deploy`, { type: 'application/x-www-form-urlencoded', data: 'distro_series=noble' });
    s.advance(70_000);
    const mine = s.state.events.filter((e) => e.systemId === m.system_id);
    const changes = mine.filter((e) => e.type === 'Node changed status').map((e) => e.description);
    expect(changes).toEqual(["From 'Ready' to 'Allocated'", "From 'Allocated' to 'Deploying'", "From 'Deploying' to 'Deployed'"]);
    expect(mine.filter((e) => e.level === LEVEL.DEBUG).length).toBeGreaterThan(0);
    const deployed = mine.find((e) => e.type === 'Deployed')!;
    expect(deployed.created - t0).toBeGreaterThanOrEqual(70_000);
    expect(mine.map((e) => e.id)).toEqual([...mine.map((e) => e.id)].sort((a, b) => a - b));
  });

  it('keeps state and port across restart(), and refuses connections while stopped', async () => {
    const m = s.addMachine({ hostname: 'survivor' });
    const port = s.port;
    await s.stop();
    await expect(call('GET', `machines/${m.system_id}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await s.start();
    expect(s.port).toBe(port);
    const r = await call('GET', `machines/${m.system_id}/`);
    expect(JSON.parse(r.body)).toMatchObject({ hostname: 'survivor' });
    await s.restart();
    expect((await call('GET', `machines/${m.system_id}/`)).status).toBe(200);
  });
});
