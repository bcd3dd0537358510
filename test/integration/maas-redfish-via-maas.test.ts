import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../server/artifacts/blob-store.js';
import { ingestApplianceIso } from '../../server/artifacts/ingest.js';
import { REQUIRED_IPXE_BINARIES } from '../../server/boot/ipxe-binaries.js';
import { BootUrls } from '../../server/boot/boot-urls.js';
import { loadOrCreateSecret, MachineTokens } from '../../server/boot/machine-tokens.js';
import { validateConfig } from '../../server/config/load.js';
import { startService } from '../../server/service.js';
import type { StoredEvent } from '../../server/store/types.js';
import { createMaasStandin, S } from '../support/maas-standin/index.js';
import { RedfishFixtureServer } from '../support/redfish-fixture-server.js';
import { testPki } from '../support/redfish-harness.js';

// redfish-via-maas end to end over real HTTP: the BMC parameters come from the MAAS stand-in, the BMC
// is the Redfish fixture server (an iDRAC 10 on loopback with a self-signed certificate), and the test
// plays the installer by calling the callback URLs from the machine's user-data.

const BMC_PASSWORD = 'bmc-Pa55-from-maas';
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

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A small Kairos-layout ISO built with xorriso, ingested as `rackboot artifacts add` would. */
function applianceIso(dir: string): string {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'boot', 'grub2'), { recursive: true });
  writeFileSync(join(tree, 'boot', 'kernel'), Buffer.alloc(100_000, 0x4b));
  writeFileSync(join(tree, 'boot', 'initrd'), Buffer.alloc(50_000, 0x49));
  writeFileSync(join(tree, 'rootfs.squashfs'), Buffer.alloc(200_000, 0x53));
  writeFileSync(join(tree, 'boot', 'grub2', 'grub.cfg'), 'menuentry "Installer" {\n  linux /boot/kernel cdroot root=live:CDLABEL=COS_LIVE\n  initrd /boot/initrd\n}\n');
  writeFileSync(join(tree, 'config.yaml'), '#cloud-config\n');
  const iso = join(dir, 'palette.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'COS_LIVE', '-R', '-J', tree], { stdio: 'ignore' });
  return iso;
}

describe('redfish-via-maas', () => {
  // A Ready machine is claimed by allocating it; a Deployed one (re-installed) is locked, as MAAS locks only deployed machines.
  it.each([
    { start: 'Ready', status: S.READY, claimedStatus: S.ALLOCATED, locked: false, note: 'allocated to rackboot in MAAS' },
    { start: 'Deployed', status: S.DEPLOYED, claimedStatus: S.DEPLOYED, locked: true, note: 'locked in MAAS (Deployed)' },
  ])('$start in MAAS: registers the BMC from MAAS power parameters, claims the machine, installs over virtual media, and unlocks and releases it on teardown', async ({ status, claimedStatus, locked, note }) => {
    const standin = await createMaasStandin({ timings: { releaseMs: 200, diskEraseMs: 200 } });
    cleanups.push(() => standin.stop());
    const cert = testPki().selfSigned;
    const bmc = await RedfishFixtureServer.start({ fixture: 'dell-idrac10', username: 'admin', password: BMC_PASSWORD, etags: 'weak', etagHeader: false, rejectIfMatchOnActions: true, tls: { certPem: cert.certPem, keyPem: cert.keyPem } });
    cleanups.push(() => bmc.close());
    // The MAAS machine is the server behind that BMC: same boot NIC MAC, Redfish power parameters.
    const mm = standin.addMachine({
      hostname: 'rack1-rf0',
      mac: 'c4:cb:e1:a0:01:02',
      pool: 'rack1',
      status,
      ...(status === S.DEPLOYED ? { owner: 'admin' } : {}),
      power_type: 'redfish',
      power_parameters: { power_address: bmc.url, power_user: 'admin', power_pass: BMC_PASSWORD, node_id: 'System.Embedded.1' },
    });

    const dir = mkdtempSync(join(tmpdir(), 'rb-maas-rf-'));
    const ipxeDir = join(dir, 'ipxe');
    mkdirSync(ipxeDir);
    for (const b of REQUIRED_IPXE_BINARIES) writeFileSync(join(ipxeDir, b), randomBytes(512));
    const port = await freePort();
    // The iDRAC reports no drive with a by-id name, so the profile names the install device.
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
        bmc: { retries: 1 },
        profiles: { vmedia: { appliance: 'palette', method: 'virtual-media', userData: { extraFile: extra } } },
        maas: { url: standin.url, apiKey: standin.adminKey, mode: 'redfish-via-maas', sync: { pool: 'rack1', profile: 'vmedia' }, pollSeconds: 0.1, requestTimeoutSeconds: 2 },
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
    const svc = await startService(r.config, pino({ level: 'trace' }, sink));
    cleanups.push(async () => {
      await svc.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    expect(svc.maas, svc.problems.join('; ')).not.toBeNull();
    const ingested = await ingestApplianceIso(svc.store.artifacts, new BlobStore(r.config.artifactsRoot), { path: applianceIso(dir), source: 'palette.iso', name: 'palette' });
    expect(ingested.ok).toBe(true);
    const token = readFileSync(join(r.config.dataDir, 'admin.token'), 'utf8').trim();
    const base = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string) => {
      const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      return { status: res.status, text, json: JSON.parse(text) as Record<string, any> };
    };
    const events = (id: string): Promise<StoredEvent[]> => svc.store.events.listForMachine(id, { afterId: 0, limit: 5000 });

    expect((await api('POST', '/api/v1/maas/sync')).json['created']).toHaveLength(1);
    const synced = (await svc.store.machines.findByMac(mm.mac))!;
    expect(synced.maas?.systemId).toBe(mm.system_id);
    expect(await svc.store.bmcs.get(synced.id)).toBeNull();

    const prov = await api('POST', `/api/v1/machines/${synced.id}/provision`);
    expect(prov.status, prov.text).toBe(200);
    const id = synced.id;
    const booting = await waitFor('booting-installer', async () => {
      const m = (await svc.store.machines.get(id))!;
      if (m.state === 'failed') throw new Error(`failed: ${m.stateReason}`);
      return m.state === 'booting-installer' ? m : undefined;
    });

    // The BMC was registered from what MAAS holds: address, user, node_id; password sealed; TOFU recorded.
    const rec = (await svc.store.bmcs.get(id))!;
    expect(rec).toMatchObject({ address: bmc.url, username: 'admin', systemId: 'System.Embedded.1' });
    expect(rec.trust).toMatchObject({ mode: 'tofu', fingerprintSha256: cert.fingerprint256 });
    expect(rec.sealedPassword).not.toContain(BMC_PASSWORD);
    const powerReads = standin.requests.filter((q) => q.path.includes(mm.system_id) && q.op === 'power_parameters');
    expect(powerReads.length).toBeGreaterThan(0);
    expect((await events(id)).find((e) => e.kind === 'bmc.registered')?.message).toContain(`trusted on first use, SHA-256 ${cert.fingerprint256}`);

    // Claimed in MAAS before the BMC was touched for the install.
    const claimed = standin.machine(mm.system_id);
    expect(claimed.status).toBe(claimedStatus);
    expect(claimed.locked).toBe(locked);
    expect((await events(id)).find((e) => e.kind === 'maas.claimed')?.message).toContain(note);

    // At the BMC: the machine ISO inserted, one-time boot from Cd, power on.
    const inserts = bmc.requestsTo('POST', /InsertMedia/).filter((q) => q.status < 300);
    expect(inserts.map((q) => (q.body as { Image: string }).Image)).toEqual([expect.stringMatching(new RegExp(`^${base}/boot/${id}/[^/]+/appliance/palette/machine\\.iso$`))]);
    const sys = bmc.resource('/redfish/v1/Systems/System.Embedded.1') as { Boot: Record<string, unknown>; PowerState: string };
    expect(sys.Boot).toMatchObject({ BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Cd' });
    expect(bmc.requestsTo('POST', /ComputerSystem\.Reset/).map((q) => (q.body as { ResetType: string }).ResetType)).toContain('On');
    expect(sys.PowerState).toBe('On');

    // The installer: its user-data (as served to the machine) carries the callback URLs.
    const urls = new BootUrls(r.config.publicUrl, new MachineTokens(await loadOrCreateSecret(r.config.dataDir)));
    const ud = await (await fetch(urls.userData(booting))).text();
    const callback = (stage: string) => new RegExp(`https?://[^'"\\s]+/callback/${stage}`).exec(ud)?.[0];
    for (const stage of ['install-start', 'install-done']) {
      const u = callback(stage);
      expect(u, `no ${stage} callback in the user-data`).toBeDefined();
      expect((await fetch(u!, { method: 'POST' })).status).toBe(200);
    }
    await waitFor('installed and cleaned up', async () => ((await events(id)).some((e) => e.kind === 'bmc.cleanup') ? true : undefined));
    expect((await svc.store.machines.get(id))!.state).toBe('installed');
    expect(bmc.requestsTo('POST', /EjectMedia/).filter((q) => q.status < 300).length).toBeGreaterThan(0);

    // Teardown gives the machine back to MAAS.
    const rel = await api('POST', `/api/v1/machines/${id}/release`);
    expect(rel.status, rel.text).toBe(200);
    expect(rel.json).toMatchObject({ systemId: mm.system_id, unlocked: locked, released: true });
    expect(standin.machine(mm.system_id).locked).toBe(false);
    expect([S.RELEASING, S.DISK_ERASING, S.READY]).toContain(standin.machine(mm.system_id).status);

    // Neither secret leaks into logs, events or API output.
    const all = JSON.stringify(await events(id)) + logs.join('') + (await api('GET', `/api/v1/machines/${id}`)).text + (await api('GET', `/api/v1/machines/${id}/events`)).text;
    expect(all).not.toContain(BMC_PASSWORD);
    expect(all).not.toContain(standin.adminKey);
  }, 120_000);
});
