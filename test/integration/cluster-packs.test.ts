// Pack bundles through the product: a cluster definition names an OCI image-layout archive; once the
// cluster is Running and Healthy, formation pushes it to the cluster's registry before waiting for
// the nodes. The registries are Debian's docker-registry: one on <VIP>:30003 over HTTPS with a
// self-signed certificate standing in for the appliance's Zot (trusted on first use, fingerprint
// recorded), one plain, one with htpasswd Basic auth. Manifests and blobs are read back and every
// digest checked. Then the on-demand API and CLI push, and bad input.

import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryPinKey } from '../../server/packs/pack-target.js';
import { freePort, haveDockerRegistry, makeOciArchive, readBackDigests, startDockerRegistry, type OciArchive, type RunningRegistry } from '../support/docker-registry.js';
import { startEnrollmentLab, waitForCluster, type EnrollmentLab } from '../support/enrollment-harness.js';
import { runCli } from '../support/rackboot-process.js';

if (!haveDockerRegistry && process.env.CI) throw new Error('docker-registry or openssl is missing: run scripts/install-deps.sh test');

const HTPASSWD = fileURLToPath(new URL('../fixtures/packs/htpasswd', import.meta.url));
const VIP = '127.0.0.201';

describe.skipIf(!haveDockerRegistry)('pack bundles pushed by formation, the API and the CLI', () => {
  let lab: EnrollmentLab;
  let zot: RunningRegistry;
  let plain: RunningRegistry | undefined;
  let guarded: RunningRegistry;
  let archive: OciArchive;
  let plainPort: number;
  let token: string;
  const clusters: Record<string, any> = {};

  beforeAll(async () => {
    lab = await startEnrollmentLab({ hosts: 3, base: 31 });
    token = readFileSync(join(lab.dir, 'data', 'admin.token'), 'utf8').trim();
    archive = makeOciArchive(join(lab.dir, 'pack'), ['core-1.0.0', 'extras-1.0.0']);
    zot = await startDockerRegistry(join(lab.dir, 'zot'), { host: VIP, port: 30003, tls: true });
    guarded = await startDockerRegistry(join(lab.dir, 'guarded'), { htpasswd: HTPASSWD });
    writeFileSync(join(lab.dir, 'registry.cred'), 'pusher:pack-secret\n', { mode: 0o600 });
    // Not started yet: the formation that pushes there has to retry.
    plainPort = await freePort();

    const [m0, m1, m2] = lab.machines;
    const define = async (name: string, m: { name: string }, vip: string, packs: object) => {
      const r = await lab.call('POST', '/api/v1/clusters', { name, controlPlane: [m.name], vip, contentBundle: lab.bundle, packs });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.id as string;
    };
    const zotId = await define('packed', m0!, VIP, { archive: archive.path });
    const retriedId = await define('retried', m1!, '192.0.2.121', { archive: archive.path, registry: `http://127.0.0.1:${plainPort}`, repository: 'mirror/packs' });
    const refusedId = await define('refused', m2!, '192.0.2.122', { archive: archive.path, registry: guarded.url });
    // Start the plain registry once formation has seen it down and scheduled a retry.
    for (let i = 0; ; i++) {
      const kinds = (await lab.svc.store.clusters.events(retriedId, { limit: 5000 })).map((e) => e.kind);
      if (kinds.includes('packs.push-retry')) break;
      if (i > 1200) throw new Error('no packs.push-retry on the cluster whose registry is down');
      await new Promise((r) => setTimeout(r, 50));
    }
    plain = await startDockerRegistry(join(lab.dir, 'plain'), { port: plainPort });
    for (const [k, id] of [['packed', zotId], ['retried', retriedId], ['refused', refusedId]] as const) clusters[k] = await waitForCluster(lab, id, 90_000);
  }, 180_000);

  afterAll(async () => {
    await zot?.stop();
    await plain?.stop();
    await guarded?.stop();
    await lab?.close();
  });

  it('pushes to the cluster Zot (https://<VIP>:30003) by default, trusting its certificate on first use', async () => {
    const c = clusters.packed;
    expect(c.state).toBe('enrolled');
    expect(await readBackDigests(zot, 'packs', archive)).toEqual([]);
    expect(await lab.svc.store.clusters.pin(registryPinKey(c.id, zot.url))).toBe(new X509Certificate(zot.certPem!).fingerprint256);
    const events = await lab.svc.store.clusters.events(c.id, { limit: 5000 });
    const kinds = events.map((e) => e.kind);
    expect(kinds.indexOf('cluster.running')).toBeLessThan(kinds.indexOf('packs.pushed'));
    expect(kinds.lastIndexOf('packs.pushed')).toBeLessThan(kinds.indexOf('cluster.enrolled'));
    const pushed = events.filter((e) => e.kind === 'packs.pushed').map((e) => [e.detail?.tag, e.detail?.digest, e.detail?.blobs]);
    expect(pushed).toEqual([
      ['core-1.0.0', archive.manifests.get('core-1.0.0'), { uploaded: 3, present: 0, mounted: 0 }],
      // The layer shared with the first image is already there: skipped.
      ['extras-1.0.0', archive.manifests.get('extras-1.0.0'), { uploaded: 2, present: 1, mounted: 0 }],
    ]);
    expect(kinds).toContain('packs.registry-pinned');
    const step = (await lab.svc.store.clusters.steps(c.id)).find((s) => s.step === 'packs-push')!;
    expect(step.status).toBe('done');
    expect(step.detail.manifests).toEqual([...archive.manifests].map(([tag, digest]) => ({ tag, digest })));
    // On the member's own timeline too.
    const mine = (await lab.svc.store.events.listForMachine(lab.machines[0]!.id, { limit: 5000 })).filter((e) => e.kind === 'packs.pushed');
    expect(mine).toHaveLength(2);
  });

  it('retries a registry that is down until it answers, then ends enrolled', async () => {
    const c = clusters.retried;
    expect(c.state).toBe('enrolled');
    expect(await readBackDigests(plain!, 'mirror/packs', archive)).toEqual([]);
    const kinds = (await lab.svc.store.clusters.events(c.id, { limit: 5000 })).map((e) => e.kind);
    expect(kinds).toContain('packs.push-failed');
    expect(kinds).toContain('packs.push-retry');
    expect(kinds.filter((k) => k === 'packs.pushed')).toHaveLength(2);
    const step = (await lab.svc.store.clusters.steps(c.id)).find((s) => s.step === 'packs-push')!;
    expect(step.attempts).toBeGreaterThan(1);
  });

  it('fails the cluster at once, with the reason, when the registry refuses the credentials', async () => {
    const c = clusters.refused;
    expect(c.state).toBe('failed');
    expect(c.stateReason).toMatch(/^pack push to http:\/\/127\.0\.0\.1:\d+: .*HTTP 401/);
    expect((await lab.svc.store.machines.get(lab.machines[2]!.id))!.state).toBe('failed');
    const kinds = (await lab.svc.store.clusters.events(c.id, { limit: 5000 })).map((e) => e.kind);
    expect(kinds).not.toContain('packs.push-retry');
  });

  it('pushes again on demand through the API: every blob is already there and skipped', async () => {
    const r = await lab.call('POST', `/api/v1/clusters/${clusters.packed.id}/packs`, { archive: archive.path });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.registry).toBe(`https://${VIP}:30003`);
    expect(r.body.manifests.map((m: any) => [m.tag, m.digest, m.blobs])).toEqual([
      ['core-1.0.0', archive.manifests.get('core-1.0.0'), { uploaded: 0, present: 3, mounted: 0 }],
      ['extras-1.0.0', archive.manifests.get('extras-1.0.0'), { uploaded: 0, present: 3, mounted: 0 }],
    ]);
  });

  it('pushes to another registry with credentials from a file, which appear nowhere', async () => {
    const r = await lab.call('POST', `/api/v1/clusters/${clusters.packed.id}/packs`, { archive: archive.path, registry: guarded.url, repository: 'ext/packs', credentialsFile: join(lab.dir, 'registry.cred') });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.manifests.map((m: any) => m.digest)).toEqual([...archive.manifests.values()]);
    const basic = `Basic ${Buffer.from('pusher:pack-secret').toString('base64')}`;
    expect(await readBackDigests(guarded, 'ext/packs', archive, basic)).toEqual([]);
    const everything = JSON.stringify([
      r.body,
      await lab.svc.store.clusters.events(clusters.packed.id, { limit: 5000 }),
      await lab.svc.store.events.listForMachine(lab.machines[0]!.id, { limit: 5000 }),
      (await lab.call('GET', `/api/v1/clusters/${clusters.packed.id}`)).body,
    ]);
    expect(everything).not.toContain('pack-secret');
    expect(everything).not.toContain(Buffer.from('pusher:pack-secret').toString('base64'));
  });

  it('answers bad pushes with problem+json and keeps serving', async () => {
    const id = clusters.packed.id;
    const notLayout = join(lab.dir, 'not-oci.tar');
    mkdirSync(join(lab.dir, 'junk'), { recursive: true });
    writeFileSync(join(lab.dir, 'junk', 'readme.txt'), 'not a layout');
    execFileSync('tar', ['-cf', notLayout, '-C', join(lab.dir, 'junk'), 'readme.txt']);
    const bad = await lab.call('POST', `/api/v1/clusters/${id}/packs`, { archive: notLayout });
    expect(bad.status).toBe(422);
    expect(bad.body.issues).toEqual([{ field: 'archive', message: expect.stringMatching(/not an OCI image layout/) }]);
    const defined = await lab.call('POST', '/api/v1/clusters', { name: 'nopacks', controlPlane: ['nope'], vip: '192.0.2.123', contentBundle: lab.bundle, packs: { archive: notLayout, tls: { insecure: true, pinSha256: 'zz' } } });
    expect(defined.status).toBe(422);
    expect(defined.body.issues.map((i: { field: string }) => i.field).sort()).toEqual(['controlPlane.0', 'packs.archive', 'packs.tls', 'packs.tls.pinSha256']);
    const missing = await lab.call('POST', `/api/v1/clusters/${id}/packs`, { archive: join(lab.dir, 'nope.tar') });
    expect(missing.status).toBe(422);
    expect(missing.body.issues[0].message).toMatch(/cannot read .*ENOENT/);
    const shape = await lab.call('POST', `/api/v1/clusters/${id}/packs`, { archive: 'relative.tar', tls: { insecure: true, caFile: '/etc/ssl/x.pem' } });
    expect(shape.status).toBe(422);
    const down = await lab.call('POST', `/api/v1/clusters/${id}/packs`, { archive: archive.path, registry: `http://127.0.0.1:${await freePort()}` });
    expect(down.status).toBe(502);
    expect(down.body.detail).toMatch(/ECONNREFUSED/);
    const notYet = await lab.call('POST', `/api/v1/clusters/${clusters.refused.id}/packs`, { archive: archive.path });
    expect(notYet.status).toBe(409);
    const res = await fetch(`${lab.api}/api/v1/clusters/${id}/packs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"archive":' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await lab.call('GET', `/api/v1/clusters/${id}`)).status).toBe(200);

    // The Zot certificate recorded on first use is insisted on: another registry with its own
    // certificate on the same address is refused before any request goes out.
    await zot.stop();
    zot = await startDockerRegistry(join(lab.dir, 'impostor'), { host: VIP, port: 30003, tls: true });
    const impostor = await lab.call('POST', `/api/v1/clusters/${id}/packs`, { archive: archive.path });
    expect(impostor.status).toBe(502);
    expect(impostor.body.detail).toContain(`has SHA-256 ${zot.fingerprint}, pinned is ${await lab.svc.store.clusters.pin(registryPinKey(id, zot.url))}`);
    expect((await zot.get('/v2/_catalog')).body.toString()).toBe('{"repositories":[]}\n');
  });

  it('pushes from the CLI, with exit codes', async () => {
    const common = ['--server', lab.api, '--token', token];
    const ok = await runCli(['clusters', 'push-packs', 'packed', archive.path, '--registry', plain!.url, '--repository', 'cli/packs', '-o', 'json', ...common]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const out = JSON.parse(ok.stdout) as { manifests: { tag: string; digest: string }[] };
    expect(out.manifests.map((m) => [m.tag, m.digest])).toEqual([...archive.manifests]);
    expect(await readBackDigests(plain!, 'cli/packs', archive)).toEqual([]);

    const bad = await runCli(['clusters', 'push-packs', 'packed', join(lab.dir, 'not-oci.tar'), ...common]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not an OCI image layout/);
    const notYet = await runCli(['clusters', 'push-packs', 'refused', archive.path, ...common]);
    expect(notYet.code).toBe(3);
    const unknown = await runCli(['clusters', 'push-packs', 'nope', archive.path, ...common]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no cluster named 'nope'/);
    const list = await runCli(['clusters', '-o', 'json', ...common]);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((c) => c.name).sort()).toEqual(['packed', 'refused', 'retried']);
  }, 120_000);
});
