import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveInside } from '../../server/http/send-file.js';
import type { Machine } from '../../server/inventory/machine.js';
import type { StoredEvent } from '../../server/store/types.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

const PROFILES = {
  installer: { kernel: 'installer/vmlinuz', initrds: ['installer/initrd.img'], cmdline: 'console=ttyS0 rb.done={{phoneHomeUrl}}' },
};

let f: HttpFixture;
let m: Machine;

beforeEach(async () => {
  f = await buildHttpFixture({ profiles: PROFILES, boot: { defaultProfile: 'installer', scriptRetries: 4 } });
  m = await f.addMachine({ name: 'node-1', macs: ['52:54:00:12:34:56'], profile: 'installer' });
});
afterEach(async () => {
  await f.cleanup();
});

function get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return f.app.inject({ method: 'GET', url, headers });
}

function head(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return f.app.inject({ method: 'HEAD', url, headers });
}

function files(rel: string, machine: Pick<Machine, 'id' | 'tokenGeneration'> = m): string {
  return f.bootPath(machine, `/files/${rel}`);
}

function expectPlain404(r: LightMyRequestResponse): void {
  expect(r.statusCode).toBe(404);
  expect(r.headers['content-type']).toMatch(/^text\/plain/);
  expect(r.body).toBe('not found\n');
  expect(r.headers.location).toBeUndefined();
}

describe('per-machine script', () => {
  it('serves the netboot script with the right token, uncached', async () => {
    const r = await get(f.bootPath(m, '/script.ipxe'));
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    const base = f.urls.base(m);
    const lines = r.body.split('\n');
    expect(lines[0]).toBe('#!ipxe');
    expect(lines).toContain(`kernel --name kernel ${base}/files/installer/vmlinuz console=ttyS0 rb.done=${base}/phone-home initrd=initrd0 || goto retry`);
    expect(lines).toContain(`initrd --name initrd0 ${base}/files/installer/initrd.img || goto retry`);
    expect(lines).toContain('iseq ${rb-tries} 4 && goto give_up ||');
    expect(lines.filter((l) => l.trim() !== '').at(-1)).toBe('exit 1');
    expect(base.startsWith('http://10.250.0.1:8080/boot/')).toBe(true);
  });

  it('records that the script was served, with the plan', async () => {
    await get(f.bootPath(m, '/script.ipxe'));
    const items = (await f.store.events.listForMachine(m.id)).filter((e) => e.kind === 'script.served');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ machineId: m.id, source: 'http', outcome: 'ok', detail: { plan: 'netboot', profile: 'installer' } });
  });

  it('serves the local-disk script once the machine is installed', async () => {
    const installed = await f.store.machines.update(m.id, { state: 'installed' });
    const r = await get(f.bootPath(installed, '/script.ipxe'));
    expect(r.statusCode).toBe(200);
    const lines = r.body.split('\n');
    expect(lines).toContain('iseq ${platform} efi && exit 1 ||');
    expect(lines).toContain('sanboot --no-describe --drive 0x80 || exit 1');
    expect(r.body).not.toMatch(/^kernel\b/m);
    expect(r.body).toContain('state is installed');
  });

  it('gives the same plain 404 for a wrong token, an unknown id, another machine’s token and a MAC in place of the id', async () => {
    const other = await f.addMachine({ name: 'node-2', macs: ['52:54:00:00:00:02'] });
    const token = f.tokens.tokenFor(m);
    const flipped = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    const attempts = [
      `/boot/${m.id}/${flipped}/script.ipxe`,
      `/boot/${m.id}/${token.slice(0, -1)}/script.ipxe`,
      `/boot/${m.id}/x/script.ipxe`,
      `/boot/00000000-0000-4000-8000-000000000000/${token}/script.ipxe`,
      `/boot/${other.id}/${token}/script.ipxe`,
      `/boot/${m.id.toUpperCase()}/${token}/script.ipxe`,
      `/boot/52:54:00:12:34:56/${token}/script.ipxe`,
      `/boot/52-54-00-12-34-56/${token}/script.ipxe`,
      `/boot/525400123456/${token}/script.ipxe`,
    ];
    const responses = await Promise.all(attempts.map((u) => get(u)));
    for (const [i, r] of responses.entries()) {
      expect(r.statusCode, attempts[i]).toBe(404);
      expect(r.headers['content-type'], attempts[i]).toBe(responses[0]!.headers['content-type']);
      expect(r.body, attempts[i]).toBe(responses[0]!.body);
    }
    expectPlain404(responses[0]!);
  });

  it('guards every boot path with the token, not only the script', async () => {
    f.artifact('installer/vmlinuz', 'KERNEL');
    const wrong = { id: m.id, tokenGeneration: m.tokenGeneration + 7 };
    expectPlain404(await get(files('installer/vmlinuz', wrong)));
    expectPlain404(await get(f.bootPath(wrong, '/ipxe/snponly.efi')));
    expectPlain404(await get(f.bootPath(wrong, '/phone-home')));
    expectPlain404(await f.app.inject({ method: 'POST', url: f.bootPath(wrong, '/phone-home') }));
    expect(await f.store.events.listForMachine(m.id)).toEqual([]);
  });

  it('revokes every old URL when the token is rotated', async () => {
    f.artifact('installer/vmlinuz', 'KERNEL');
    const oldScript = f.bootPath(m, '/script.ipxe');
    const oldFile = files('installer/vmlinuz');
    expect((await get(oldScript)).statusCode).toBe(200);
    const rotated = await f.store.machines.rotateToken(m.id);
    expectPlain404(await get(oldScript));
    expectPlain404(await get(oldFile));
    const fresh = await get(f.bootPath(rotated, '/script.ipxe'));
    expect(fresh.statusCode).toBe(200);
    expect(fresh.body).toContain(f.urls.base(rotated));
    expect(fresh.body).not.toContain(f.tokens.tokenFor(m));
    expect((await get(files('installer/vmlinuz', rotated))).body).toBe('KERNEL');
  });

  it('stops serving a deleted machine', async () => {
    const url = f.bootPath(m, '/script.ipxe');
    await f.store.machines.delete(m.id);
    expectPlain404(await get(url));
  });

  it('never redirects, whatever the slashes', async () => {
    const base = f.bootPath(m, '');
    for (const url of [`${base}/script.ipxe/`, `${base}//script.ipxe`, `${base.replace('/boot/', '/boot//')}/script.ipxe`]) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(200);
      expect(r.headers.location, url).toBeUndefined();
      expect(r.body.startsWith('#!ipxe'), url).toBe(true);
    }
  });
});

describe('phone-home', () => {
  async function timeline(): Promise<StoredEvent[]> {
    const r = await get(`/api/v1/machines/${m.id}/events`, f.auth('viewer'));
    expect(r.statusCode).toBe(200);
    return (r.json() as { items: StoredEvent[] }).items;
  }

  it('records boot.completed on GET, with the reported MAC and uptime, readable through the API', async () => {
    const r = await get(`${f.bootPath(m, '/phone-home')}?mac=52:54:00:12:34:56&uptime=42.5`);
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('ok\n');
    const items = await timeline();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      machineId: m.id,
      mac: '52:54:00:12:34:56',
      source: 'callback',
      kind: 'boot.completed',
      outcome: 'ok',
      detail: { uptime: '42.5' },
    });
  });

  it('records boot.completed on POST, whatever body the booted system sends', async () => {
    const url = f.bootPath(m, '/phone-home');
    const posts = [
      { payload: undefined, headers: {} },
      { payload: '{"hostname":"node-1"}', headers: { 'content-type': 'application/json' } },
      { payload: 'done', headers: { 'content-type': 'text/plain' } },
      // cloud-init's phone_home module posts form fields.
      { payload: 'instance_id=node-1&hostname=node-1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      { payload: Buffer.from([1, 2, 3]), headers: { 'content-type': 'application/octet-stream' } },
    ];
    for (const [i, p] of posts.entries()) {
      const r = await f.app.inject({ method: 'POST', url, ...(p.payload === undefined ? {} : { payload: p.payload }), headers: p.headers });
      expect(r.statusCode, `post ${i}`).toBe(200);
    }
    const items = await timeline();
    expect(items.map((e) => e.kind)).toEqual(Array(posts.length).fill('boot.completed'));
  });

  it('caps caller-supplied values', async () => {
    await get(`${f.bootPath(m, '/phone-home')}?mac=${'a'.repeat(100)}&uptime=${'9'.repeat(100)}`);
    const [e] = await timeline();
    expect(e!.mac).toBe('a'.repeat(32));
    expect(e!.detail?.uptime).toBe('9'.repeat(32));
  });
});

describe('first-stage iPXE binaries', () => {
  it('serves each binary byte for byte', async () => {
    for (const [name, data] of Object.entries(f.ipxeFiles)) {
      const r = await get(f.bootPath(m, `/ipxe/${name}`));
      expect(r.statusCode, name).toBe(200);
      expect(r.rawPayload.equals(data), name).toBe(true);
      expect(r.headers['content-length']).toBe(String(data.length));
    }
    expect((await get(f.bootPath(m, '/ipxe/snponly.efi'))).headers['content-type']).toBe('application/efi');
  });

  it('404s unknown names and anything that leaves the iPXE directory', async () => {
    writeFileSync(join(f.dir, 'outside.efi'), 'SECRET');
    for (const name of ['nope.efi', '..', '%2e%2e%2foutside.efi', '..%2Foutside.efi', 'a%00b']) {
      const r = await get(f.bootPath(m, `/ipxe/${name}`));
      expect(r.statusCode, name).toBe(404);
      expect(r.body, name).not.toContain('SECRET');
    }
  });
});

describe('artifact serving', () => {
  let data: Buffer;
  let url: string;

  beforeEach(() => {
    data = f.artifact('images/disk.img', randomBytes(10_000));
    url = files('images/disk.img');
  });

  it('serves the whole file with length, a strong ETag and range support advertised', async () => {
    const r = await get(url);
    expect(r.statusCode).toBe(200);
    expect(r.rawPayload.equals(data)).toBe(true);
    expect(r.headers['content-length']).toBe('10000');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers.etag).toMatch(/^"[^"]+"$/);
    expect(Number.isNaN(Date.parse(String(r.headers['last-modified'])))).toBe(false);
    expect(r.headers['content-range']).toBeUndefined();
    expect(r.headers['content-type']).toBe('application/vnd.efi-img');
    expect((await get(url)).headers.etag).toBe(r.headers.etag);
  });

  it('changes the ETag when the file changes', async () => {
    const before = (await get(url)).headers.etag;
    f.artifact('images/disk.img', randomBytes(10_001));
    utimesSync(join(f.artifactsRoot, 'images/disk.img'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    expect((await get(url)).headers.etag).not.toBe(before);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const g = await get(url);
    const h = await head(url);
    expect(h.statusCode).toBe(200);
    expect(h.rawPayload.length).toBe(0);
    expect(h.headers['content-length']).toBe('10000');
    expect(h.headers.etag).toBe(g.headers.etag);
    expect(h.headers['accept-ranges']).toBe('bytes');
    expect(h.headers['content-type']).toBe(g.headers['content-type']);
  });

  it('answers HEAD with a Range as a 206 without a body', async () => {
    const h = await head(url, { range: 'bytes=100-199' });
    expect(h.statusCode).toBe(206);
    expect(h.headers['content-range']).toBe('bytes 100-199/10000');
    expect(h.headers['content-length']).toBe('100');
    expect(h.rawPayload.length).toBe(0);
  });

  it('serves closed, open-ended and suffix ranges as 206 with Content-Range', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=5000-5000', 5000, 5000],
      ['bytes=9000-', 9000, 9999],
      ['bytes=-500', 9500, 9999],
      ['bytes=-20000', 0, 9999],
      ['bytes=9990-20000', 9990, 9999],
    ];
    for (const [range, start, end] of cases) {
      const r = await get(url, { range });
      expect(r.statusCode, range).toBe(206);
      expect(r.headers['content-range'], range).toBe(`bytes ${start}-${end}/10000`);
      expect(r.headers['content-length'], range).toBe(String(end - start + 1));
      expect(r.rawPayload.equals(data.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('serves the whole file for ranges it does not honour', async () => {
    for (const range of ['bytes=0-1,5-6', 'bytes=50-10', 'pages=1-2']) {
      const r = await get(url, { range });
      expect(r.statusCode, range).toBe(200);
      expect(r.rawPayload.equals(data), range).toBe(true);
    }
  });

  it('answers 416 with bytes */size for a range past the end', async () => {
    for (const range of ['bytes=10000-', 'bytes=20000-30000', 'bytes=-0']) {
      const r = await get(url, { range });
      expect(r.statusCode, range).toBe(416);
      expect(r.headers['content-range'], range).toBe('bytes */10000');
    }
  });

  it('honours If-Range: a matching ETag gets the range, a stale one the whole file', async () => {
    const etag = String((await get(url)).headers.etag);
    const fresh = await get(url, { range: 'bytes=10-19', 'if-range': etag });
    expect(fresh.statusCode).toBe(206);
    expect(fresh.rawPayload.equals(data.subarray(10, 20))).toBe(true);
    const stale = await get(url, { range: 'bytes=10-19', 'if-range': '"0-0"' });
    expect(stale.statusCode).toBe(200);
    expect(stale.headers['content-range']).toBeUndefined();
    expect(stale.rawPayload.equals(data)).toBe(true);
    const date = await get(url, { range: 'bytes=10-19', 'if-range': 'Sat, 01 Jan 2000 00:00:00 GMT' });
    expect(date.statusCode).toBe(200);
  });

  it('answers If-None-Match with the current ETag with 304 and no body', async () => {
    const etag = String((await get(url)).headers.etag);
    const r = await get(url, { 'if-none-match': etag });
    expect(r.statusCode).toBe(304);
    expect(r.rawPayload.length).toBe(0);
    expect(r.headers.etag).toBe(etag);
    const stale = await get(url, { 'if-none-match': '"0-0"' });
    expect(stale.statusCode).toBe(200);
    expect(stale.rawPayload.equals(data)).toBe(true);
  });

  it('labels EFI binaries and ISO images with their boot media types', async () => {
    f.artifact('efi/BOOTX64.EFI', 'MZ');
    f.artifact('efi/grubx64.efi', 'MZ');
    f.artifact('iso/appliance.iso', 'CD001');
    f.artifact('iso/APPLIANCE.ISO', 'CD001');
    expect((await get(files('efi/BOOTX64.EFI'))).headers['content-type']).toBe('application/efi');
    expect((await get(files('efi/grubx64.efi'))).headers['content-type']).toBe('application/efi');
    expect((await get(files('iso/appliance.iso'))).headers['content-type']).toBe('application/vnd.efi-iso');
    expect((await head(files('iso/APPLIANCE.ISO'))).headers['content-type']).toBe('application/vnd.efi-iso');
    f.artifact('blob.bin', 'x');
    expect((await get(files('blob.bin'))).headers['content-type']).toBe('application/octet-stream');
  });

  it('serves an empty file as 200 with zero length', async () => {
    f.artifact('empty.txt', '');
    const r = await get(files('empty.txt'));
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-length']).toBe('0');
    expect(r.rawPayload.length).toBe(0);
  });

  it('serves names that need escaping, as BootUrls builds them', async () => {
    const body = f.artifact('odd dir/a#b?c.img', 'ODD');
    const u = new URL(f.urls.artifact(m, 'odd dir/a#b?c.img')).pathname;
    const r = await get(u);
    expect(r.statusCode).toBe(200);
    expect(r.rawPayload.equals(body)).toBe(true);
  });

  it('serves a path with doubled slashes directly, never with a redirect', async () => {
    const base = f.bootPath(m, '');
    for (const u of [`${base}/files//images//disk.img`, `${base}//files/images/disk.img`, `${base}/files/images/disk.img/`]) {
      const r = await get(u);
      expect(r.statusCode, u).toBe(200);
      expect(r.headers.location, u).toBeUndefined();
      expect(r.rawPayload.equals(data), u).toBe(true);
    }
  });

  it('404s missing files and directories', async () => {
    expectPlain404(await get(files('images/missing.img')));
    expectPlain404(await get(files('images')));
    expect((await get(files(''))).statusCode).toBe(404);
  });

  it('404s every traversal out of the artifact root and never returns the target', async () => {
    writeFileSync(join(f.dir, 'secret.txt'), 'TOP-SECRET');
    for (const rel of ['../secret.txt', '..%2Fsecret.txt', 'images/..%2F..%2Fsecret.txt', '%2e%2e/secret.txt', '..%5Csecret.txt', 'images/%2e%2e/%2e%2e/secret.txt', `..%2F${'..%2F'.repeat(10)}etc/passwd`]) {
      const r = await get(files(rel));
      expect(r.statusCode, rel).toBe(404);
      expect(r.body, rel).not.toContain('TOP-SECRET');
      expect(r.headers.location, rel).toBeUndefined();
    }
  });

  it('404s a symlink pointing outside the root, but follows one that stays inside', async () => {
    writeFileSync(join(f.dir, 'secret.txt'), 'TOP-SECRET');
    symlinkSync(join(f.dir, 'secret.txt'), join(f.artifactsRoot, 'leak.txt'));
    mkdirSync(join(f.artifactsRoot, 'links'));
    symlinkSync(f.dir, join(f.artifactsRoot, 'links', 'up'));
    symlinkSync(join(f.artifactsRoot, 'images', 'disk.img'), join(f.artifactsRoot, 'links', 'current.img'));
    for (const rel of ['leak.txt', 'links/up/secret.txt']) {
      const r = await get(files(rel));
      expectPlain404(r);
    }
    const inside = await get(files('links/current.img'));
    expect(inside.statusCode).toBe(200);
    expect(inside.rawPayload.equals(data)).toBe(true);
  });

  it('reassembles a 1 MiB file exactly from many ranges', async () => {
    const big = f.artifact('big/payload.bin', randomBytes(1024 * 1024));
    const u = files('big/payload.bin');
    const parts: Buffer[] = [];
    let next = 0;
    const sizes = [1, 511, 4096, 65_536, 100_000, 262_144, 300_001];
    for (const size of sizes) {
      const r = await get(u, { range: `bytes=${next}-${next + size - 1}` });
      expect(r.statusCode).toBe(206);
      expect(r.headers['content-range']).toBe(`bytes ${next}-${next + size - 1}/${big.length}`);
      parts.push(r.rawPayload);
      next += size;
    }
    const rest = await get(u, { range: `bytes=${next}-` });
    expect(rest.statusCode).toBe(206);
    parts.push(rest.rawPayload);
    const joined = Buffer.concat(parts);
    expect(joined.length).toBe(big.length);
    expect(createHash('sha256').update(joined).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    expect(joined.equals(big)).toBe(true);
  });
});

describe('resolveInside', () => {
  it('resolves paths inside the root and refuses everything else', async () => {
    const root = f.artifactsRoot;
    f.artifact('a/b.txt', 'x');
    writeFileSync(join(f.dir, 'secret.txt'), 'TOP-SECRET');
    symlinkSync(join(f.dir, 'secret.txt'), join(root, 'out'));
    expect(await resolveInside(root, 'a/b.txt')).toEqual({ ok: true, path: join(root, 'a', 'b.txt') });
    expect(await resolveInside(root, '/a/b.txt')).toEqual({ ok: true, path: join(root, 'a', 'b.txt') });
    for (const bad of ['../secret.txt', 'a/../../secret.txt', 'a\\..\\..\\secret.txt', 'out', 'a/b.txt\0', '', '.', '/']) {
      expect((await resolveInside(root, bad)).ok, JSON.stringify(bad)).toBe(false);
    }
    expect(await resolveInside(root, 'missing')).toEqual({ ok: false, reason: 'not found' });
  });
});

// Whether a response reached the client is a property of the connection: light-my-request has none,
// so these run against a loopback listener on an ephemeral port.
describe('artifact timeline (over a real connection)', () => {
  let base: string;

  beforeEach(async () => {
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(f.app.server.address() as AddressInfo).port}`;
  });

  function fetchFile(rel: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    return fetch(`${base}${files(rel)}`, init);
  }

  async function drain(p: Promise<Response>): Promise<number> {
    const r = await p;
    await r.arrayBuffer();
    return r.status;
  }

  const artifactEvents = (file: string) => f.events.filter((e) => e.kind.startsWith('artifact.') && e.detail?.file === file);

  it('records a whole-file fetch as artifact.fetched with its size', async () => {
    const body = f.artifact('k/vmlinuz', randomBytes(200_000));
    expect(await drain(fetchFile('k/vmlinuz'))).toBe(200);
    const e = await f.waitForEvent((x) => x.kind === 'artifact.fetched' && x.detail?.file === 'k/vmlinuz');
    expect(e).toMatchObject({ machineId: m.id, source: 'http', outcome: 'ok', detail: { status: 200, size: body.length, bytes: body.length } });
    expect((await f.store.events.listForMachine(m.id)).map((x) => x.kind)).toContain('artifact.fetched');
  });

  it('records a first-stage download as firststage.fetched', async () => {
    const r = await fetch(`${base}${f.bootPath(m, '/ipxe/undionly.kpxe')}`);
    expect(Buffer.from(await r.arrayBuffer()).equals(f.ipxeFiles['undionly.kpxe']!)).toBe(true);
    const e = await f.waitForEvent((x) => x.kind === 'firststage.fetched');
    expect(e.detail).toMatchObject({ file: 'undionly.kpxe', bytes: f.ipxeFiles['undionly.kpxe']!.length });
  });

  it('records nothing for mid-file ranges, HEAD, 304 or 416', async () => {
    f.artifact('disk.iso', randomBytes(100_000));
    f.artifact('marker.txt', 'done');
    const etag = String((await fetch(`${base}${files('disk.iso')}`, { method: 'HEAD' })).headers.get('etag'));
    expect(await drain(fetchFile('disk.iso', { headers: { range: 'bytes=4096-8191' } }))).toBe(206);
    expect(await drain(fetchFile('disk.iso', { headers: { range: 'bytes=-100' } }))).toBe(206);
    expect(await drain(fetchFile('disk.iso', { method: 'HEAD' }))).toBe(200);
    expect(await drain(fetchFile('disk.iso', { headers: { 'if-none-match': etag } }))).toBe(304);
    expect(await drain(fetchFile('disk.iso', { headers: { range: 'bytes=500000-' } }))).toBe(416);
    // A later whole fetch is recorded; anything the earlier requests recorded would already be there.
    expect(await drain(fetchFile('marker.txt'))).toBe(200);
    await f.waitForEvent((x) => x.kind === 'artifact.fetched' && x.detail?.file === 'marker.txt');
    expect(artifactEvents('disk.iso')).toEqual([]);
  });

  it('records a read from byte 0 as the first read of a file', async () => {
    f.artifact('disk.iso', randomBytes(100_000));
    expect(await drain(fetchFile('disk.iso', { headers: { range: 'bytes=0-2047' } }))).toBe(206);
    const e = await f.waitForEvent((x) => x.detail?.file === 'disk.iso');
    expect(e).toMatchObject({ kind: 'artifact.fetched', detail: { status: 206, bytes: 2048, size: 100_000 } });
  });

  it('records artifact.aborted when the client goes away mid-transfer', async () => {
    const path = join(f.artifactsRoot, 'huge.img');
    writeFileSync(path, '');
    truncateSync(path, 256 * 1024 * 1024);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${base}${files('huge.img')}`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
      req.end();
    });
    const e = await f.waitForEvent((x) => x.detail?.file === 'huge.img');
    expect(e).toMatchObject({ kind: 'artifact.aborted', outcome: 'error', detail: { bytes: null } });
  });

  it('404s a literal .. that no client library normalised away', async () => {
    writeFileSync(join(f.dir, 'secret.txt'), 'TOP-SECRET');
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/`, { path: `${f.bootPath(m, '/files')}/../../../../secret.txt` }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('TOP-SECRET');
  });
});
