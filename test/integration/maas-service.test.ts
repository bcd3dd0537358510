import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUIRED_IPXE_BINARIES } from '../../server/boot/ipxe-binaries.js';
import { validateConfig } from '../../server/config/load.js';
import type { Machine } from '../../server/inventory/machine.js';
import { startService, type RunningService } from '../../server/service.js';
import type { StoredEvent } from '../../server/store/types.js';
import { createMaasStandin, S, type MaasStandin } from '../support/maas-standin/index.js';

// rackboot with a MAAS section, against the MAAS stand-in over real HTTP: image upload, inventory
// sync, ten machines deployed through MAAS (one fails, MAAS restarts in the middle) and then taken to
// `installed` by the callbacks inside the user_data MAAS received, as the installed appliance would.

const profile = (extraFile: string) => ({
  kernel: 'appliance/kernel',
  // MAAS writes the disk image itself; the Kairos install block only has to name a device.
  userData: { extraFile, users: [{ name: 'kairos', passwordHash: '$6$rounds=4096$abcdefgh$SECRETHASHVALUE', groups: ['admin'] }] },
});

interface Harness {
  svc: RunningService;
  base: string;
  standin: MaasStandin;
  dir: string;
  logs: string[];
  /** The bootstrap admin API token. */
  token: string;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function harness(standin: MaasStandin, maas: Record<string, unknown> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'rb-maas-svc-'));
  const ipxeDir = join(dir, 'ipxe');
  mkdirSync(ipxeDir);
  for (const b of REQUIRED_IPXE_BINARIES) writeFileSync(join(ipxeDir, b), randomBytes(512));
  const port = await freePort();
  const extra = join(dir, 'extra.yaml');
  writeFileSync(extra, 'install:\n  device: auto\n');
  const r = validateConfig(
    {
      advertiseAddress: '127.0.0.1',
      dataDir: join(dir, 'data'),
      http: { listen: '127.0.0.1', port },
      https: { enabled: false },
      tftp: { enabled: false },
      dhcp: { mode: 'off' },
      boot: { ipxeDir },
      profiles: { appliance: profile(extra) },
      maas: {
        url: standin.url,
        apiKey: standin.adminKey,
        mode: 'deploy',
        image: 'palette-4-6',
        sync: { pool: 'rack1', profile: 'appliance' },
        pollSeconds: 0.1,
        requestTimeoutSeconds: 1,
        ...maas,
      },
    },
    dir,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const svc = await startService(r.config, pino({ level: 'debug' }, sink));
  if (svc.http === null || svc.maas === null) throw new Error(`service did not start: ${svc.problems.join('; ')}`);
  cleanups.push(async () => {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = readFileSync(join(r.config.dataDir, 'admin.token'), 'utf8').trim();
  return { svc, base: `http://127.0.0.1:${port}`, standin, dir, logs, token };
}

async function standinWith(opts: Parameters<typeof createMaasStandin>[0] = {}): Promise<MaasStandin> {
  const s = await createMaasStandin(opts);
  cleanups.push(() => s.stop());
  return s;
}

async function api(h: Harness, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(`${h.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${h.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: r.status, json, text };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const events = (h: Harness, id: string): Promise<StoredEvent[]> => h.svc.store.events.listForMachine(id, { afterId: 0, limit: 5000 });

/** The callback URL for a stage, taken from the cloud-config MAAS stored for the machine. */
function callbackUrl(standin: MaasStandin, systemId: string, stage: string): string {
  const ud = standin.userData(systemId);
  if (ud === null) throw new Error(`MAAS holds no user_data for ${systemId}`);
  const doc = parseYaml(ud.toString('utf8')) as { stages: Record<string, Array<{ name: string; commands: string[] }>> };
  for (const list of Object.values(doc.stages)) {
    for (const step of list) {
      if (step.name === `rackboot ${stage}`) return /'(http[^']+)'/.exec(step.commands[0]!)![1]!;
    }
  }
  throw new Error(`no ${stage} callback in the user_data of ${systemId}`);
}

function imageFile(dir: string): { path: string; bytes: Buffer } {
  // A small stand-in for a gzipped raw disk: MBR signature at 510 inside, gzip outside.
  const raw = Buffer.concat([randomBytes(510), Buffer.from([0x55, 0xaa]), randomBytes(300_000)]);
  const bytes = gzipSync(raw);
  const path = join(dir, 'palette-4-6.raw.gz');
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe('MAAS in the service', () => {
  it('uploads the image, syncs 10 machines, deploys them through MAAS across a MAAS restart, fails one with MAAS reason, and the callbacks in user_data finish the installs', async () => {
    const standin = await standinWith({ timings: { deployMs: 3000, releaseMs: 300, diskEraseMs: 300, nodeTimeoutMin: 30 } });
    const maasMachines = Array.from({ length: 10 }, (_, i) =>
      standin.addMachine({
        hostname: `rack1-n${i}`,
        mac: `52:54:00:00:10:${String(i).padStart(2, '0')}`,
        pool: 'rack1',
        zone: 'dc1',
        tags: ['appliance', 'nvme'],
        deployOutcome: i === 7 ? 'fail' : 'success',
      }),
    );
    standin.addMachine({ hostname: 'other-pool', mac: '52:54:00:00:20:01', pool: 'rack2' });
    const h = await harness(standin);

    // 1. The ddgz image, uploaded in chunks and recorded as an artifact.
    const img = imageFile(h.dir);
    const up = await api(h, 'POST', '/api/v1/maas/images', { path: img.path, name: 'palette-4-6' });
    expect(up.status).toBe(201);
    expect(up.json.kind).toBe('maas-image');
    expect(up.json.meta.maasName).toBe('custom/palette-4-6');
    expect(up.json.meta.filetype).toBe('ddgz');
    expect(standin.assembled(up.json.meta.resourceId)!.equals(img.bytes)).toBe(true);
    const create = standin.requests.find((r) => r.method === 'POST' && r.path === 'boot-resources/')!;
    expect(Object.fromEntries(create.form)).toMatchObject({ name: 'custom/palette-4-6', filetype: 'ddgz', architecture: 'amd64/generic', base_image: 'ubuntu/jammy' });
    // The same file again is recognised, not uploaded twice.
    expect((await api(h, 'POST', '/api/v1/maas/images', { path: img.path, name: 'palette-4-6' })).status).toBe(200);

    // 2. Inventory sync: only pool rack1, with MACs, tags, pool, zone, power type and system_id.
    const sync = await api(h, 'POST', '/api/v1/maas/sync');
    expect(sync.status).toBe(200);
    expect(sync.json.seen).toBe(10);
    expect(sync.json.created).toHaveLength(10);
    expect(standin.requests.find((r) => r.path === 'machines/' && r.method === 'GET')!.query).toContainEqual(['pool', 'rack1']);
    const again = await api(h, 'POST', '/api/v1/maas/sync');
    expect(again.json).toMatchObject({ seen: 10, created: [], updated: [], unchanged: 10 });
    const machines = new Map<string, Machine>();
    for (const mm of maasMachines) {
      const m = (await h.svc.store.machines.findByMac(mm.mac))!;
      expect(m.name).toBe(mm.hostname);
      expect(m.profile).toBe('appliance');
      expect(m.maas).toEqual({ systemId: mm.system_id, pool: 'rack1', zone: 'dc1', tags: ['appliance', 'nvme'], powerType: 'redfish' });
      machines.set(mm.system_id, m);
    }

    // 3. Ten deployments at once.
    const provisioned = await Promise.all([...machines.values()].map((m) => api(h, 'POST', `/api/v1/machines/${m.id}/provision`, { via: 'maas' })));
    for (const p of provisioned) {
      expect(p.status, p.text).toBe(200);
      expect(p.json.state).toBe('provisioning');
    }

    // 4. MAAS goes away while they deploy and comes back with its database.
    await waitFor('deployments under way', () => (maasMachines.filter((mm) => mm.status === S.DEPLOYING).length >= 5 ? true : undefined));
    // MAAS stays down until rackboot has given up on a read (past the client's own retries of about
    // 8 s) and recorded MAAS unreachable, however slowly its polls come round on a loaded runner.
    await standin.stop();
    const seenDown = async () => (await Promise.all([...machines.values()].map((m) => events(h, m.id)))).flat().some((e) => e.kind === 'maas.unreachable');
    await waitFor('rackboot to record MAAS unreachable', async () => ((await seenDown()) ? true : undefined), 120_000);
    await standin.start();

    // 5. Every machine ends: nine at installing (MAAS Deployed), one failed with MAAS's reason.
    const failedMm = maasMachines[7]!;
    for (const mm of maasMachines) {
      const id = machines.get(mm.system_id)!.id;
      const want = mm === failedMm ? 'failed' : 'installing';
      await waitFor(`${mm.hostname} ${want}`, async () => {
        const m = (await h.svc.store.machines.get(id))!;
        const deployed = (await events(h, id)).some((e) => e.kind === 'maas.deployed');
        return m.state === want && (want === 'failed' || deployed) ? true : undefined;
      });
      expect(standin.machine(mm.system_id).status).toBe(mm === failedMm ? S.FAILED_DEPLOYMENT : S.DEPLOYED);
    }
    const failed = (await h.svc.store.machines.get(machines.get(failedMm.system_id)!.id))!;
    expect(failed.stateReason).toContain("MAAS deployment ended in 'Failed deployment'");
    expect(failed.stateReason).toContain('Installation failed (refer to the installation log for more information).');
    const failEvents = await events(h, failed.id);
    const failedMove = failEvents.find((e) => e.kind === 'lifecycle.failed')!;
    const last = (failedMove.detail!.lastEvents as Array<{ kind: string; message: string }>).map((e) => e.message);
    expect(last).toContain('Marking node failed - Installation failed (refer to the installation log for more information).');

    // rackboot rode out the restart: it saw MAAS go away and come back, and no deployment was lost.
    const all = (await Promise.all([...machines.values()].map((m) => events(h, m.id)))).flat();
    expect(all.some((e) => e.kind === 'maas.unreachable')).toBe(true);
    expect(all.some((e) => e.kind === 'maas.reachable')).toBe(true);

    // 6. The deploys MAAS received: form bodies, the uploaded image, base64 user-data, our agent name.
    const deploys = standin.requests.filter((r) => r.op === 'deploy' && r.status === 200);
    expect(new Set(deploys.map((r) => r.path)).size).toBe(10);
    for (const d of deploys) {
      expect(d.contentType).toBe('application/x-www-form-urlencoded');
      const form = Object.fromEntries(d.form);
      expect(form.distro_series).toBe('custom/palette-4-6');
      expect(form.agent_name).toBe('rackboot');
      expect(Buffer.from(form.user_data!, 'base64').toString('utf8').startsWith('#cloud-config\n')).toBe(true);
    }

    // 7. The test plays each deployed appliance: it calls the callbacks in the user_data MAAS holds.
    for (const mm of maasMachines.filter((x) => x !== failedMm)) {
      for (const stage of ['install-start', 'install-done', 'first-boot']) {
        const r = await fetch(callbackUrl(standin, mm.system_id, stage), { method: 'POST' });
        expect(r.status).toBe(200);
      }
      const m = (await h.svc.store.machines.get(machines.get(mm.system_id)!.id))!;
      expect(m.state).toBe('installed');
    }

    // The timeline of one machine holds MAAS's events and rackboot's callbacks, in order.
    const one = await events(h, machines.get(maasMachines[0]!.system_id)!.id);
    const moves = one.filter((e) => e.kind === 'lifecycle.transition' || e.kind === 'lifecycle.provision').map((e) => e.detail!.to);
    expect(moves).toEqual(['provisioning', 'booting-installer', 'installing', 'installed']);
    const maasTypes = one.filter((e) => e.kind === 'maas.event').map((e) => e.detail!.type);
    for (const t of ['User acquiring node', 'User starting deployment', 'Deploying', 'Installing OS', 'Rebooting', 'Deployed']) expect(maasTypes).toContain(t);
    // Each MAAS event is recorded once, even across the restart.
    const ids = one.filter((e) => e.kind === 'maas.event').map((e) => e.detail!.maasEventId);
    expect(new Set(ids).size).toBe(ids.length);
    const kinds = one.map((e) => e.kind);
    expect(kinds.indexOf('maas.deployed')).toBeLessThan(kinds.lastIndexOf('lifecycle.transition'));
    expect(kinds).toContain('lifecycle.first-boot');
    expect(one.every((e) => e.source !== 'maas' || e.machineId === one[0]!.machineId)).toBe(true);

    // 8. Teardown: release gives the machine back to MAAS.
    const rel = await api(h, 'POST', `/api/v1/machines/${machines.get(maasMachines[0]!.system_id)!.id}/release`);
    expect(rel.status).toBe(200);
    expect(rel.json).toMatchObject({ systemId: maasMachines[0]!.system_id, released: true });
    expect([S.RELEASING, S.READY]).toContain(standin.machine(maasMachines[0]!.system_id).status);

    // 9. The API key is nowhere: not in events, API answers or logs (at debug level).
    const [consumer, token, secret] = standin.adminKey.split(':') as [string, string, string];
    const listed = await api(h, 'GET', '/api/v1/machines?limit=100');
    expect(listed.status).toBe(200);
    const haystack = [JSON.stringify(all), JSON.stringify(await events(h, failed.id)), listed.text, up.text, sync.text, h.logs.join('')];
    for (const hay of haystack) {
      expect(hay).not.toContain(secret);
      expect(hay).not.toContain(token);
      expect(hay).not.toContain(consumer);
    }
    expect(h.logs.join('')).not.toContain('SECRETHASHVALUE');
  }, 180_000);

  it('a MAAS machine that answers slowly holds up no other machine, and an unreachable MAAS fails only MAAS calls', async () => {
    const standin = await standinWith({ timings: { deployMs: 1500, releaseMs: 300, diskEraseMs: 300, nodeTimeoutMin: 30 } });
    const [slow, ...fast] = Array.from({ length: 3 }, (_, i) => standin.addMachine({ hostname: `rack1-s${i}`, mac: `52:54:00:00:30:0${i}`, pool: 'rack1' }));
    const h = await harness(standin);
    const img = imageFile(h.dir);
    expect((await api(h, 'POST', '/api/v1/maas/images', { path: img.path, name: 'palette-4-6' })).status).toBe(201);
    expect((await api(h, 'POST', '/api/v1/maas/sync')).json.created).toHaveLength(3);
    const id = async (mm: { mac: string }) => (await h.svc.store.machines.findByMac(mm.mac))!.id;

    // Every read of the slow machine takes a minute; rackboot times each attempt out after 1 s.
    standin.faults.slow(60_000, 10_000, { path: new RegExp(`^machines/${slow!.system_id}/$`) });
    for (const mm of [slow!, ...fast]) expect((await api(h, 'POST', `/api/v1/machines/${await id(mm)}/provision`, { via: 'maas' })).status).toBe(200);
    for (const mm of fast) {
      await waitFor(`${mm.hostname} deployed`, async () => ((await events(h, await id(mm))).some((e) => e.kind === 'maas.deployed') ? true : undefined));
      expect((await h.svc.store.machines.get(await id(mm)))!.state).toBe('installing');
    }
    // Meanwhile the slow machine's deployment is still waiting for its MAAS, not failed and not lost.
    const slowId = await id(slow!);
    expect((await h.svc.store.machines.get(slowId))!.state).toBe('provisioning');
    expect(standin.machine(slow!.system_id).status).toBe(S.READY);
    await waitFor('slow machine reported unreachable', async () => ((await events(h, slowId)).some((e) => e.kind === 'maas.unreachable') ? true : undefined));
    expect(h.svc.maas!.running()).toContain(slowId);

    // Its MAAS answers again: the deployment continues from where it waited.
    standin.faults.clear();
    await waitFor('slow machine deployed', async () => ((await events(h, slowId)).some((e) => e.kind === 'maas.deployed') ? true : undefined));
    expect((await events(h, slowId)).some((e) => e.kind === 'maas.reachable')).toBe(true);
    expect(standin.machine(slow!.system_id).status).toBe(S.DEPLOYED);

    // MAAS is gone: MAAS calls fail with MAAS's side of the story, rackboot's own installs go on.
    await standin.stop();
    const add = await api(h, 'POST', '/api/v1/machines', { name: 'netboot-1', macs: ['52:54:00:00:40:01'], profile: 'appliance' });
    expect(add.status).toBe(201);
    const [sync, prov] = await Promise.all([api(h, 'POST', '/api/v1/maas/sync'), api(h, 'POST', `/api/v1/machines/${add.json.id}/provision`)]);
    expect(prov.status).toBe(200);
    expect(prov.json.state).toBe('provisioning');
    expect(sync.status).toBe(502);
    expect(sync.json.code).toBe('RB_BAD_GATEWAY');
    expect(sync.json.detail).toMatch(/GET machines\/ failed: .*ECONNREFUSED/);
  }, 120_000);
});
