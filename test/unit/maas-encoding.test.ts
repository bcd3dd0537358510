import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text as streamText } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployMachine, formBody, listMachines, multipartBody, queryString, readMachine, releaseMachine } from '../../maas/index.js';
import { parseMultipart } from '../support/maas-standin/http.js';
import { createMaasStandin, S, type MaasStandin } from '../support/maas-standin/index.js';
import { clientFor, errorFixture } from '../support/maas-standin/testkit.js';

describe('form and query encoding', () => {
  it('writes lists as repeated keys, booleans as true/false, and leaves out null/undefined', () => {
    const body = formBody({ a: 1, tags: ['x', 'y'], on: true, off: false, skip: undefined, nil: null, empty: '' });
    expect(body.toString()).toBe('a=1&tags=x&tags=y&on=true&off=false&empty=');
  });

  it('puts op first in the query string', () => {
    expect(queryString('deploy')).toBe('?op=deploy');
    expect(queryString('power_parameters', { id: ['abc123', 'def456'] })).toBe('?op=power_parameters&id=abc123&id=def456');
    expect(queryString(undefined, { hostname: 'a b', distro: 'custom/kairos' })).toBe('?hostname=a+b&distro=custom%2Fkairos');
    expect(queryString(undefined, {})).toBe('');
  });

  it('builds multipart bodies with exact lengths, streaming files from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-maas-mp-'));
    try {
      const file = join(dir, 'img.raw.gz');
      const data = Buffer.alloc(300_000, 7);
      data.write('\r\n--not-a-boundary\r\n', 1000);
      writeFileSync(file, data);
      const mp = multipartBody({ name: 'custom/k', tags: ['a', 'b'] }, [{ field: 'content', filename: 'img.raw.gz', source: { path: file, size: data.length } }]);
      const chunks: Buffer[] = [];
      for await (const c of mp.stream()) chunks.push(c as Buffer);
      const all = Buffer.concat(chunks);
      expect(all.length).toBe(mp.length);
      const parsed = parseMultipart(all, mp.contentType)!;
      expect(parsed.fields).toEqual([
        ['name', 'custom/k'],
        ['tags', 'a'],
        ['tags', 'b'],
      ]);
      expect(parsed.files.get('content')!.data.equals(data)).toBe(true);
      // A second stream() is a complete, independent body (retries resend it).
      expect((await streamText(mp.stream())).length).toBe(mp.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('encoding as the stand-in (and MAAS) reads it', () => {
  let s: MaasStandin;
  beforeAll(async () => {
    s = await createMaasStandin();
    s.addMachine({ hostname: 'a1', tags: ['kairos', 'rack-1'] });
    s.addMachine({ hostname: 'a2', tags: ['kairos'] });
    s.addMachine({ hostname: 'a3', tags: ['rack-1'] });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('sends list filters as repeated query keys', async () => {
    const { client } = clientFor(s);
    const r = await listMachines(client, { tags: ['kairos', 'rack-1'], hostname: ['a1', 'a2', 'a3'] });
    expect(r.ok && r.value.map((m) => m.hostname)).toEqual(['a1']);
    const last = s.requests[s.requests.length - 1]!;
    expect(last.query).toEqual([
      ['tags', 'kairos'],
      ['tags', 'rack-1'],
      ['hostname', 'a1'],
      ['hostname', 'a2'],
      ['hostname', 'a3'],
    ]);
    client.close();
  });

  it("shows why: axios' default tags[]=x is refused as an unknown constraint", async () => {
    const { client } = clientFor(s);
    const r = await client.get('machines/', { query: { 'tags[]': 'kairos' } });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('RB_MAAS_BAD_REQUEST');
      expect(r.error.fields).toEqual({ 'tags[]': ['No such constraint.'] });
    }
    const typo = await client.get('machines/', { query: { hostnam: 'foo' } });
    expect(typo.ok ? null : typo.error.fields).toEqual(errorFixture('bad-request-unknown-constraint').body);
    client.close();
  });

  it('sends operations as ?op= with a urlencoded form body', async () => {
    const m = s.addMachine({ hostname: 'd1' });
    const { client } = clientFor(s);
    const r = await deployMachine(client, m.system_id, { distro_series: 'noble', userData: '#cloud-config\nhostname: d1\n', comment: 'a b&c' });
    expect(r.ok).toBe(true);
    const req = s.requests[s.requests.length - 1]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`machines/${m.system_id}/`);
    expect(req.query).toEqual([['op', 'deploy']]);
    expect(req.contentType).toBe('application/x-www-form-urlencoded');
    expect(req.form).toEqual([
      ['distro_series', 'noble'],
      ['user_data', Buffer.from('#cloud-config\nhostname: d1\n').toString('base64')],
      ['comment', 'a b&c'],
    ]);
    client.close();
  });

  it('ignores a JSON body for deploy, as MAAS does: the machine gets the default series and no user_data', async () => {
    const m = s.addMachine({ hostname: 'j1' });
    const { client } = clientFor(s);
    const r = await client.request({
      method: 'POST',
      path: `machines/${m.system_id}/`,
      op: 'deploy',
      body: () => ({ data: JSON.stringify({ distro_series: 'noble', user_data: Buffer.from('#cloud-config\n').toString('base64') }), contentType: 'application/json' }),
    });
    expect(r.ok).toBe(true);
    const after = await readMachine(client, m.system_id);
    expect(after.ok && [after.value.status_name, after.value.osystem, after.value.distro_series]).toEqual(['Deploying', 'ubuntu', 'jammy']);
    expect(s.userData(m.system_id)).toBeNull();
    // release reads request.data, so there JSON does get through (erase=true -> Disk erasing).
    const rel = await client.request({
      method: 'POST',
      path: `machines/${m.system_id}/`,
      op: 'release',
      body: () => ({ data: JSON.stringify({ erase: true }), contentType: 'application/json' }),
    });
    expect(rel.ok).toBe(true);
    expect(s.machine(m.system_id)['status']).toBe(S.DISK_ERASING);
    client.close();
  });

  it('finds the op in the form body or an /op-<name> path suffix too (MAAS dispatch order)', async () => {
    const a = s.addMachine({ hostname: 'p1' });
    const b = s.addMachine({ hostname: 'p2' });
    const { client } = clientFor(s);
    const viaBody = await client.post(`machines/${a.system_id}/`, { form: { op: 'deploy', distro_series: 'noble' } });
    expect(viaBody.ok).toBe(true);
    const viaPath = await client.post(`machines/${b.system_id}/op-deploy`, { form: { distro_series: 'noble' } });
    expect(viaPath.ok).toBe(true);
    expect([s.machine(a.system_id)['status_name'], s.machine(b.system_id)['status_name']]).toEqual(['Deploying', 'Deploying']);
    expect(s.requests[s.requests.length - 1]!.op).toBe('deploy');
    const bad = await client.post(`machines/${a.system_id}/`, { op: 'deplyo' });
    expect(bad.ok ? null : bad.error.body).toBe(`Unrecognised signature: method=POST op=deplyo`);
    expect(errorFixture('bad-request-unknown-op').body).toBe('Unrecognised signature: method=POST op=deplyo');
    // A POST-only op over GET is an unknown signature as well.
    const wrongVerb = await client.get(`machines/${a.system_id}/`, { op: 'deploy' });
    expect(wrongVerb.ok ? null : wrongVerb.error.body).toBe('Unrecognised signature: method=GET op=deploy');
    // Released as a tidy-up; the answer is the machine.
    expect((await releaseMachine(client, a.system_id)).ok).toBe(true);
    client.close();
  });
});
