// BMC-driven provisioning through the real HTTP app, SQLite store and Redfish client, against the
// HTTPS Redfish fixture server: registration by BMC alone (CA, pinned, trust on first use), the PXE
// and virtual-media paths, the clean-up after `installed`, failures after retries, bulk runs under
// the concurrency bounds, and the BMC password kept out of the API, the logs, the events and the DB.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../server/artifacts/blob-store.js';
import { ingestApplianceIso } from '../../server/artifacts/ingest.js';
import { loadOrCreateSecret, MachineTokens } from '../../server/boot/machine-tokens.js';
import type { Machine } from '../../server/inventory/machine.js';
import { CredentialCipher } from '../../server/secrets/credential-cipher.js';
import type { StoredEvent } from '../../server/store/types.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';
import { RedfishFixtureServer, type FixtureServerOptions, type InFlightGauge } from '../support/redfish-fixture-server.js';
import { testPki } from '../support/redfish-harness.js';

const PASSWORD = 'Sup3r-Secret-BMC-pw!';
const SYSTEM = '/redfish/v1/Systems/437XR1138R2';
const PROFILES = {
  pxe: { kernel: 'appliance/kernel', initrds: ['appliance/initrd'], cmdline: 'config_url={{configUrl}}' },
  vmedia: { appliance: 'palette', method: 'virtual-media' },
};

let f: HttpFixture | undefined;
const servers: RedfishFixtureServer[] = [];
const logLines: string[] = [];
afterEach(async () => {
  await f?.cleanup();
  f = undefined;
  for (const s of servers.splice(0)) await s.close();
  logLines.length = 0;
});

async function bmcServer(opts: Partial<Omit<FixtureServerOptions, 'tls'>> & { selfSigned?: boolean } = {}): Promise<RedfishFixtureServer> {
  const pki = testPki();
  const cert = opts.selfSigned ? pki.selfSigned : pki.bmc;
  const s = await RedfishFixtureServer.start({ fixture: 'dmtf-rackmount1', username: 'admin', password: PASSWORD, ...opts, tls: { certPem: cert.certPem, keyPem: cert.keyPem } });
  servers.push(s);
  return s;
}

async function app(config: Record<string, unknown> = {}): Promise<HttpFixture> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  f = await buildHttpFixture({ profiles: PROFILES, ...config }, { log: pino({ level: 'trace' }, sink), bmc: { retries: 2 } });
  return f;
}

async function register(server: RedfishFixtureServer, extra: Record<string, unknown> = {}) {
  const res = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: '/api/v1/bmcs', payload: { address: server.url, username: 'admin', password: PASSWORD, tls: { caBundle: testPki().ca.certPem }, ...extra } });
  return { status: res.statusCode, body: res.json() as { created: boolean; machine: Machine; bmc: Record<string, unknown>; detail?: string; issues?: unknown[] }, text: res.body };
}

async function provision(id: string, method: 'pxe' | 'virtual-media') {
  const res = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: `/api/v1/machines/${id}/bmc-provision`, payload: { method } });
  expect(res.statusCode, res.body).toBe(202);
  await f!.provisioner.idle();
  return (await f!.store.machines.get(id))!;
}

async function timeline(id: string): Promise<StoredEvent[]> {
  return f!.store.events.listForMachine(id, { afterId: 0, limit: 5000 });
}

async function callback(m: Machine, stage: string) {
  const res = await f!.app.inject({ method: 'POST', url: f!.bootPath(m, `/callback/${stage}`) });
  expect(res.statusCode, res.body).toBe(200);
}

/** The machine as the installer would see it after a re-provision rotated its token. */
async function current(id: string): Promise<Machine> {
  return (await f!.store.machines.get(id))!;
}

/** A small Kairos-layout ISO built with xorriso and ingested, as `rackboot artifacts add` would. */
async function ingestAppliance(): Promise<void> {
  const tree = join(f!.dir, 'tree');
  mkdirSync(join(tree, 'boot', 'grub2'), { recursive: true });
  writeFileSync(join(tree, 'boot', 'kernel'), Buffer.alloc(100_000, 0x4b));
  writeFileSync(join(tree, 'boot', 'initrd'), Buffer.alloc(50_000, 0x49));
  writeFileSync(join(tree, 'rootfs.squashfs'), Buffer.alloc(200_000, 0x53));
  writeFileSync(join(tree, 'boot', 'grub2', 'grub.cfg'), 'menuentry "Installer" {\n  linux /boot/kernel cdroot root=live:CDLABEL=COS_LIVE\n  initrd /boot/initrd\n}\n');
  writeFileSync(join(tree, 'config.yaml'), '#cloud-config\n');
  const iso = join(f!.dir, 'palette.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'COS_LIVE', '-R', '-J', tree], { stdio: 'ignore' });
  const r = await ingestApplianceIso(f!.store.artifacts, new BlobStore(f!.artifactsRoot), { path: iso, source: iso, name: 'palette' });
  if (!r.ok) throw new Error(r.reason);
}

/** A machine with a BMC record written straight to the store (bulk tests need many distinct ones). */
async function machineBehind(server: RedfishFixtureServer, name: string, mac: string, extra: Record<string, unknown> = {}, vendor = 'generic'): Promise<Machine> {
  const m = await f!.addMachine({ name, macs: [mac], profile: 'pxe', ...extra });
  await f!.store.bmcs.put({
    machineId: m.id,
    address: server.url,
    username: 'admin',
    sealedPassword: f!.cipher.seal(PASSWORD, m.id),
    systemId: '437XR1138R2',
    vendor: { id: vendor },
    trust: { mode: 'ca', caBundle: testPki().ca.certPem },
    hardware: { gaps: [] },
  });
  return m;
}

function resetTypes(server: RedfishFixtureServer): string[] {
  return server.requestsTo('POST', /ComputerSystem\.Reset/).map((r) => (r.body as { ResetType: string }).ResetType);
}

describe('registering a machine by its BMC alone', () => {
  it('creates the machine from Redfish (MACs, UUID, serial, firmware, disks) and records vendor, trust and system', async () => {
    const server = await bmcServer();
    await app();
    const r = await register(server, { profile: 'pxe', rack: 'r1' });
    expect(r.status, r.text).toBe(201);
    const m = r.body.machine;
    expect(m).toMatchObject({ name: 'srv-437XR1138R2', smbiosUuid: '38947555-7742-3448-3784-823347823834', serial: '437XR1138R2', firmware: 'uefi', rack: 'r1', profile: 'pxe', state: 'ready' });
    expect(m.macs.length).toBeGreaterThan(0);
    expect(m.macs.every((x) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(x))).toBe(true);
    expect(m.bmc).toEqual({ address: server.url, vendor: r.body.bmc['vendor'] && (r.body.bmc['vendor'] as { id: string }).id });
    expect(r.body.bmc).toMatchObject({ address: server.url, username: 'admin', systemId: '437XR1138R2', trust: { mode: 'ca' }, hardware: { serial: '437XR1138R2', bootMode: 'UEFI' } });
    expect(r.body.bmc).not.toHaveProperty('sealedPassword');

    const events = await timeline(m.id);
    const calls = events.filter((e) => e.kind === 'bmc.call');
    expect(calls.length).toBeGreaterThan(3);
    for (const c of calls) {
      expect(c.source).toBe('bmc');
      expect(c.detail).toMatchObject({ method: expect.stringMatching(/^(GET|POST|DELETE|PATCH)$/), resource: expect.stringMatching(/^\/redfish\/v1/), status: expect.any(Number), durationMs: expect.any(Number), retry: false });
    }
    // Login and logout are on the record too.
    expect(calls.some((c) => c.detail?.['method'] === 'POST' && /Sessions/.test(String(c.detail?.['resource'])))).toBe(true);
    expect(calls.some((c) => c.detail?.['method'] === 'DELETE')).toBe(true);
    expect(events.find((e) => e.kind === 'bmc.registered')?.message).toMatch(/machine created from BMC .* system 437XR1138R2, CA-verified/);

    // Registering again fills in the same machine rather than creating another.
    const again = await register(server);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, machine: { id: m.id, rack: 'r1' } });
    expect((await f!.store.machines.list()).total).toBe(1);
  });

  it('fills in a machine the inventory already has (by MAC), keeping what the operator set', async () => {
    const server = await bmcServer();
    await app();
    const nic = server.resource(`${SYSTEM}/EthernetInterfaces/12446A3B0411`) as { MACAddress?: string; PermanentMACAddress?: string };
    const mac = (nic.PermanentMACAddress ?? nic.MACAddress)!.toLowerCase();
    const pre = await f!.addMachine({ name: 'cp-1', macs: [mac], serial: 'OPERATOR-SERIAL' });
    const r = await register(server);
    expect(r.status, r.text).toBe(200);
    expect(r.body.machine).toMatchObject({ id: pre.id, name: 'cp-1', serial: 'OPERATOR-SERIAL', smbiosUuid: '38947555-7742-3448-3784-823347823834', firmware: 'uefi' });
  });

  it('trust on first use: records and shows the fingerprint, then holds the BMC to it', async () => {
    const pki = testPki();
    const server = await bmcServer({ selfSigned: true });
    await app();
    const r = await register(server, { tls: { trustOnFirstUse: true } });
    expect(r.status, r.text).toBe(201);
    expect(r.body.bmc['trust']).toMatchObject({ mode: 'tofu', fingerprintSha256: pki.selfSigned.fingerprint256, trustedAt: expect.any(String) });
    const shown = await f!.app.inject({ headers: f!.auth(), method: 'GET', url: `/api/v1/machines/${r.body.machine.id}/bmc` });
    expect(shown.json()).toMatchObject({ trust: { mode: 'tofu', fingerprintSha256: pki.selfSigned.fingerprint256 } });
    expect((await timeline(r.body.machine.id)).find((e) => e.kind === 'bmc.registered')?.message).toContain(`trusted on first use, SHA-256 ${pki.selfSigned.fingerprint256}`);
  });

  it('a pinned fingerprint that does not match refuses the BMC before any credential is sent; nothing is created', async () => {
    const server = await bmcServer({ selfSigned: true });
    await app();
    const r = await register(server, { tls: { fingerprintSha256: 'AA'.repeat(32) } });
    expect(r.status).toBe(502);
    expect(r.body.detail).toMatch(/RB_REDFISH_TLS_PIN/);
    expect(server.requests).toHaveLength(0);
    expect((await f!.store.machines.list()).total).toBe(0);
    const ok = await register(server, { tls: { fingerprintSha256: testPki().selfSigned.fingerprint256 } });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.bmc['trust']).toEqual({ mode: 'pinned', fingerprintSha256: testPki().selfSigned.fingerprint256 });
  });

  it('rejects bad registrations with the fields named and the password never echoed', async () => {
    const server = await bmcServer();
    await app();
    const bad = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: '/api/v1/bmcs', payload: { address: server.url, username: 'admin', password: PASSWORD, tls: { insecure: true } } });
    expect(bad.statusCode).toBe(422);
    expect(bad.body).not.toContain(PASSWORD);
    const http = await register(server, { address: 'http://127.0.0.1:1' });
    expect(http.status).toBe(422);
    expect(http.body.issues).toEqual([{ field: 'address', message: 'not an https BMC address' }]);
    const wrongPw = await register(server, { password: 'wrong' });
    expect(wrongPw.status).toBe(502);
    expect(wrongPw.body.detail).toMatch(/RB_REDFISH/);
    expect((await f!.store.machines.list()).total).toBe(0);
  });
});

describe('provisioning over the PXE path', () => {
  it('power off, one-time boot Pxe (UEFI) read back, power on; the installer then runs to installed and the BMC is cleaned up', async () => {
    const server = await bmcServer();
    server.mutate(SYSTEM, { Boot: { BootSourceOverrideEnabled: 'Disabled', BootSourceOverrideTarget: 'None' } });
    await app();
    const { machine } = (await register(server, { profile: 'pxe' })).body;
    const before = server.requests.length;

    const m = await provision(machine.id, 'pxe');
    expect(m.state).toBe('provisioning');
    expect(m.tokenGeneration).toBe(machine.tokenGeneration + 1);
    const writes = server.requests.slice(before).filter((r) => r.method !== 'GET' && !/Sessions/.test(r.path));
    expect(writes.map((r) => `${r.method} ${r.path.split('/').pop()}`)).toEqual(['POST ComputerSystem.Reset', 'PATCH 437XR1138R2', 'POST ComputerSystem.Reset']);
    expect(resetTypes(server)).toEqual(['ForceOff', 'On']);
    expect(server.resource(SYSTEM)).toMatchObject({ PowerState: 'On', Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe', BootSourceOverrideMode: 'UEFI' } });
    expect(server.sessions.size).toBe(0);

    // The machine PXE-boots: its script moves it on, the installer's callbacks finish the install.
    const script = await f!.app.inject({ method: 'GET', url: f!.bootPath(m, '/script.ipxe') });
    expect(script.statusCode).toBe(200);
    expect((await current(m.id)).state).toBe('booting-installer');
    await callback(m, 'install-start');
    await callback(m, 'install-done');
    expect((await current(m.id)).state).toBe('installed');
    await f!.provisioner.idle();
    expect(server.resource(SYSTEM)).toMatchObject({ PowerState: 'On', Boot: { BootSourceOverrideEnabled: 'Disabled' } });
    // Left on: no power action after install.
    expect(resetTypes(server)).toEqual(['ForceOff', 'On']);
    const metrics = (await f!.app.inject({ method: 'GET', url: '/metrics', headers: f!.auth() })).body;
    expect(metrics).toMatch(/rackboot_external_calls_total\{system="bmc",operation="POST ComputerSystem.Reset"\} 2/);

    const kinds = (await timeline(m.id)).filter((e) => e.source === 'bmc' && e.kind !== 'bmc.call').map((e) => e.kind);
    expect(kinds).toEqual(['bmc.registered', 'bmc.queued', 'bmc.powered-off', 'bmc.boot-override', 'bmc.powered-on', 'bmc.cleanup']);
    expect((await current(m.id)).state).toBe('installed');
  });

  it('refuses a second request while the first is under way, and machines without a BMC', async () => {
    const server = await bmcServer({ latencyMs: 20 });
    await app();
    const { machine } = (await register(server, { profile: 'pxe' })).body;
    const first = f!.app.inject({ headers: f!.auth(), method: 'POST', url: `/api/v1/machines/${machine.id}/bmc-provision`, payload: { method: 'pxe' } });
    expect((await first).statusCode).toBe(202);
    const second = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: `/api/v1/machines/${machine.id}/bmc-provision`, payload: { method: 'pxe' } });
    expect(second.statusCode).toBe(409);
    expect(second.json().detail).toMatch(/already queued or running/);
    await f!.provisioner.idle();
    const plain = await f!.addMachine({ name: 'no-bmc', macs: ['02:00:00:00:00:99'] });
    const none = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: `/api/v1/machines/${plain.id}/bmc-provision`, payload: { method: 'pxe' } });
    expect(none.statusCode).toBe(409);
    expect(none.json().detail).toMatch(/no BMC registered/);
  });
});

describe('provisioning over virtual media', () => {
  it('inserts the machine ISO and the cidata seed under an expiring media token, boots Cd, and ejects after install', async () => {
    const server = await bmcServer({ fixture: 'lenovo-xcc', etags: 'bare', requireIfMatch: true });
    await app({ bmc: { mediaTokenSeconds: 600 } });
    await ingestAppliance();
    const r = await register(server, { profile: 'vmedia' });
    expect(r.status, r.text).toBe(201);
    // The XCC reports two drives: the operator marks the OS disk (rackboot never installs to "auto" then).
    const disks = r.body.machine.disks;
    expect(disks.length).toBe(2);
    const marked = await f!.app.inject({ headers: f!.auth(), method: 'PATCH', url: `/api/v1/machines/${r.body.machine.id}`, payload: { disks: [{ ...disks[0], role: 'os' }, disks[1]] } });
    expect(marked.statusCode, marked.body).toBe(200);
    const m = await provision(r.body.machine.id, 'virtual-media');
    expect(m.state, m.stateReason ?? '').toBe('booting-installer');

    const slots = server.requestsTo('PATCH', /VirtualMedia\/EXT[12]$/).filter((q) => typeof (q.body as { Image?: unknown }).Image === 'string');
    const images = Object.fromEntries(slots.map((q) => [q.path.split('/').pop(), (q.body as { Image: string }).Image]));
    expect(images['EXT1']).toMatch(new RegExp(`/boot/${m.id}/\\d+\\.[A-Za-z0-9_-]{43}/appliance/palette/machine\\.iso$`));
    expect(images['EXT2']).toMatch(new RegExp(`/boot/${m.id}/\\d+\\.[A-Za-z0-9_-]{43}/cidata\\.iso$`));
    const expires = Number(new RegExp(`${m.id}/(\\d+)\\.`).exec(images['EXT1']!)![1]);
    expect(expires * 1000 - Date.now()).toBeGreaterThan(500_000);
    expect(expires * 1000 - Date.now()).toBeLessThanOrEqual(600_000);

    // What the BMC will fetch is served under the media token; the token opens nothing else.
    const path = (u: string) => new URL(u).pathname;
    const iso = await f!.app.inject({ method: 'GET', url: path(images['EXT1']!), headers: { range: 'bytes=0-1023' } });
    expect(iso.statusCode).toBe(206);
    const seed = await f!.app.inject({ method: 'GET', url: path(images['EXT2']!) });
    expect(seed.statusCode, seed.body).toBe(200);
    const mediaToken = path(images['EXT1']!).split('/')[3]!;
    expect((await f!.app.inject({ method: 'GET', url: `/boot/${m.id}/${mediaToken}/script.ipxe` })).statusCode).toBe(404);
    expect((await f!.app.inject({ method: 'GET', url: `/boot/${m.id}/${mediaToken}/user-data` })).statusCode).toBe(404);

    const sys = server.resource('/redfish/v1/Systems/1') as { Boot: Record<string, unknown>; PowerState: string };
    expect(sys.Boot).toMatchObject({ BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Cd' });
    expect(sys.PowerState).toBe('On');
    // The timeline names slots and files, never the tokened URL.
    const all = JSON.stringify(await timeline(m.id));
    expect(all).not.toContain(mediaToken);

    await callback(m, 'install-start');
    await callback(m, 'install-done');
    await f!.provisioner.idle();
    expect((await current(m.id)).state).toBe('installed');
    for (const slot of ['EXT1', 'EXT2']) expect(server.resource(`/redfish/v1/Managers/1/VirtualMedia/${slot}`)).toMatchObject({ Image: null, Inserted: false });
    expect(server.resource('/redfish/v1/Systems/1')).toMatchObject({ PowerState: 'On', Boot: { BootSourceOverrideEnabled: 'Disabled' } });
    expect((await timeline(m.id)).find((e) => e.kind === 'bmc.cleanup')?.message).toMatch(/2 media slot\(s\) ejected/);
  });

  it('an expired media token, or one from before a re-provision, opens nothing', async () => {
    await app({ profiles: { ...PROFILES, vmedia: { ...PROFILES.vmedia } }, boot: { defaultProfile: 'vmedia' } });
    await ingestAppliance();
    const m = await f!.addMachine({ name: 'vm-1', macs: ['02:00:00:00:00:31'], disks: [{ path: '/dev/disk/by-id/nvme-OS_1', role: 'os' }] });
    const secret = await loadOrCreateSecret(f!.cfg.dataDir);
    const hourAgo = new MachineTokens(secret, () => Date.now() - 3600_000);
    const stale = `/boot/${m.id}/${hourAgo.mediaTokenFor(m, 600)}/cidata.iso`;
    expect((await f!.app.inject({ method: 'GET', url: stale })).statusCode).toBe(404);
    expect(logLines.some((l) => l.includes('expired media token'))).toBe(true);
    const fresh = new MachineTokens(secret).mediaTokenFor(m, 600);
    expect((await f!.app.inject({ method: 'GET', url: `/boot/${m.id}/${fresh}/cidata.iso` })).statusCode).toBe(200);
    await f!.store.machines.rotateToken(m.id);
    expect((await f!.app.inject({ method: 'GET', url: `/boot/${m.id}/${fresh}/cidata.iso` })).statusCode).toBe(404);
  });

  it('a BMC without a second slot gets the machine ISO alone (it carries the config) and boots it', async () => {
    const server = await bmcServer({ fixture: 'dell-idrac10', etags: 'weak', etagHeader: false, rejectIfMatchOnActions: true });
    await app();
    await ingestAppliance();
    const r = await register(server, { profile: 'vmedia' });
    expect(r.status, r.text).toBe(201);
    const m = await provision(r.body.machine.id, 'virtual-media');
    expect(m.state, m.stateReason ?? '').toBe('booting-installer');
    const inserts = server.requestsTo('POST', /InsertMedia/).filter((q) => q.status < 300);
    expect(inserts.map((q) => String((q.body as { Image: string }).Image).split('/').pop())).toEqual(['machine.iso']);
    expect((await timeline(m.id)).find((e) => e.kind === 'bmc.media-inserted')?.message).toMatch(/no second CD slot for the cidata seed \(machine\.iso carries the config\)/);
    expect(resetTypes(server)).toContain('On');
  });
});

describe('failures', () => {
  it('a BMC call that still fails after the retries fails the machine with the step, the reason and its last events', async () => {
    const server = await bmcServer();
    await app();
    const { machine } = (await register(server, { profile: 'pxe' })).body;
    server.fail({ method: 'POST', path: `${SYSTEM}/Actions/ComputerSystem.Reset`, status: 503, headers: { 'Retry-After': '0' }, times: 10 });
    const m = await provision(machine.id, 'pxe');
    expect(m.state).toBe('failed');
    expect(m.stateReason).toMatch(/^BMC https:\/\/127\.0\.0\.1:\d+: power off: .*503/);
    const events = await timeline(m.id);
    const resets = events.filter((e) => e.kind === 'bmc.call' && /Reset/.test(String(e.detail?.['resource'])));
    // First attempt and two retries, each on the timeline; the last one is not retried.
    expect(resets.map((e) => [e.detail?.['status'], e.detail?.['attempt'], e.detail?.['retry']])).toEqual([
      [503, 0, true],
      [503, 1, true],
      [503, 2, false],
    ]);
    const failed = events.find((e) => e.kind === 'lifecycle.failed')!;
    expect((failed.detail?.['lastEvents'] as unknown[]).length).toBeGreaterThan(0);
    expect(server.sessions.size).toBe(0);
  });

  it('an unreachable BMC fails the machine, nothing is left in provisioning', async () => {
    const server = await bmcServer();
    await app();
    const { machine } = (await register(server, { profile: 'pxe' })).body;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const m = await provision(machine.id, 'pxe');
    expect(m.state).toBe('failed');
    expect(m.stateReason).toMatch(/connect to the BMC: .*(ECONNREFUSED|connection)/i);
    const refused = (await timeline(m.id)).filter((e) => e.kind === 'bmc.call' && e.detail?.['error'] === 'RB_REDFISH_CONNECTION');
    expect(refused.length).toBe(3);
  });

  it('a key file that is not the one the password was sealed with fails the machine with a clear reason', async () => {
    const server = await bmcServer();
    await app();
    const m = await machineBehind(server, 'k1', '02:00:00:00:00:51');
    const other = new CredentialCipher(randomBytes(32), '/elsewhere/old.key');
    await f!.store.bmcs.put({ ...(await f!.store.bmcs.get(m.id))!, sealedPassword: other.seal(PASSWORD, m.id) });
    const after = await provision(m.id, 'pxe');
    expect(after.state).toBe('failed');
    expect(after.stateReason).toContain(`connect to the BMC: the stored BMC credential was encrypted with another key (key id ${other.keyId}) than the one in ${f!.cfg.bmcKeyFile}`);
    expect(server.requests).toHaveLength(0);
  });

  it('the stage watchdog covers provisioning', async () => {
    await app();
    const m = await f!.addMachine({ name: 'stuck', macs: ['02:00:00:00:00:41'] });
    await f!.lifecycle.provision(m.id, 'test');
    expect(await f!.lifecycle.checkTimeouts(Date.now() + (f!.cfg.lifecycle.provisioningSeconds + 1) * 1000)).toBe(1);
    expect(await current(m.id)).toMatchObject({ state: 'failed', stateReason: expect.stringMatching(/timed out in provisioning/) });
  });
});

describe('bulk provisioning', () => {
  it('takes a selector, bounds concurrency globally and per BMC, and records every call on each machine', async () => {
    const gauge: InFlightGauge = { current: 0, max: 0 };
    const a = await bmcServer({ latencyMs: 15, gauge });
    const b = await bmcServer({ latencyMs: 15, gauge });
    const c = await bmcServer({ latencyMs: 15, gauge });
    await app({ bmc: { maxConcurrent: 2, maxPerBmc: 1 } });
    // Two systems behind BMC a (a chassis manager), one each behind b and c, one outside the rack.
    const ms = [
      await machineBehind(a, 'n1', '02:00:00:00:01:01', { rack: 'r7' }),
      await machineBehind(a, 'n2', '02:00:00:00:01:02', { rack: 'r7' }),
      await machineBehind(b, 'n3', '02:00:00:00:01:03', { rack: 'r7' }),
      await machineBehind(c, 'n4', '02:00:00:00:01:04', { rack: 'r7' }),
    ];
    await f!.addMachine({ name: 'other-rack', macs: ['02:00:00:00:01:05'], rack: 'r8' });
    const plain = await f!.addMachine({ name: 'no-bmc', macs: ['02:00:00:00:01:06'], rack: 'r7' });

    const res = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: '/api/v1/bmcs/provision', payload: { method: 'pxe', selector: { rack: 'r7' } } });
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json() as { accepted: { name: string }[]; skipped: { id: string; reason: string }[] };
    expect(body.accepted.map((x) => x.name).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(body.skipped).toEqual([{ id: plain.id, name: 'no-bmc', reason: 'no BMC registered for this machine' }]);
    await f!.provisioner.idle();

    for (const m of ms) {
      const now = await current(m.id);
      expect(now.state, now.stateReason ?? '').toBe('provisioning');
      const calls = (await timeline(m.id)).filter((e) => e.kind === 'bmc.call');
      expect(calls.some((e) => e.detail?.['resource'] === `${SYSTEM}/Actions/ComputerSystem.Reset`)).toBe(true);
    }
    // Observed at the BMCs: never more than one job per BMC, never more than two overall, and the
    // global bound was reached (so the check above could have failed).
    for (const s of [a, b, c]) expect(s.inFlight.max).toBe(1);
    expect(gauge.max).toBe(2);
    expect(resetTypes(a)).toEqual(['ForceOff', 'On', 'ForceOff', 'On']);
  });

  it('takes a list of names and ids, and reports unknown ones', async () => {
    const a = await bmcServer();
    await app();
    const m1 = await machineBehind(a, 'l1', '02:00:00:00:02:01');
    const res = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: '/api/v1/bmcs/provision', payload: { method: 'pxe', machines: [m1.id, 'l1', 'ghost'] } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: [{ name: 'l1' }], skipped: [{ id: 'ghost', reason: 'no such machine' }] });
    await f!.provisioner.idle();
    expect((await current(m1.id)).state).toBe('provisioning');
    const bad = await f!.app.inject({ headers: f!.auth(), method: 'POST', url: '/api/v1/bmcs/provision', payload: { method: 'ipmi', machines: ['l1'] } });
    expect(bad.statusCode).toBe(422);
  });
});

describe('the BMC password stays secret', () => {
  it('is in no API answer, log line, timeline event or database file; the key file is 0600 outside the DB', async () => {
    const server = await bmcServer();
    await app();
    await ingestAppliance();
    const r = await register(server, { profile: 'pxe' });
    const id = r.body.machine.id;
    await provision(id, 'pxe');
    server.fail({ method: 'POST', path: /Reset/, status: 503, headers: { 'Retry-After': '0' }, times: 10 });
    await provision(id, 'pxe');
    const answers = [
      r.text,
      (await f!.app.inject({ headers: f!.auth(), method: 'GET', url: '/api/v1/bmcs' })).body,
      (await f!.app.inject({ headers: f!.auth(), method: 'GET', url: `/api/v1/machines/${id}/bmc` })).body,
      (await f!.app.inject({ headers: f!.auth(), method: 'GET', url: `/api/v1/machines/${id}` })).body,
      (await f!.app.inject({ headers: f!.auth(), method: 'GET', url: `/api/v1/machines/${id}/events?limit=5000` })).body,
    ];
    const basic = Buffer.from(`admin:${PASSWORD}`).toString('base64');
    for (const text of [...answers, JSON.stringify(await timeline(id)), logLines.join('')]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic);
    }
    expect(logLines.length).toBeGreaterThan(10);
    const dataFiles = readdirSync(f!.cfg.dataDir).filter((n) => n.startsWith('rackboot.db'));
    expect(dataFiles).toContain('rackboot.db');
    for (const n of dataFiles) expect(readFileSync(join(f!.cfg.dataDir, n)).includes(Buffer.from(PASSWORD))).toBe(false);
    expect(f!.cfg.bmcKeyFile).toBe(join(f!.cfg.dataDir, 'secrets', 'bmc-credentials.key'));
    expect(statSync(f!.cfg.bmcKeyFile).mode & 0o777).toBe(0o600);
    // The sealed value really is what the store holds, and it opens with the key.
    const rec = (await f!.store.bmcs.get(id))!;
    expect(rec.sealedPassword).toMatch(/^v1:[0-9a-f]{16}:/);
    expect(f!.cipher.open(rec.sealedPassword, id)).toBe(PASSWORD);
  });
});

describe('the BMC list', () => {
  it('filters by vendor, case-insensitive, and pages with the total of every match', async () => {
    const server = await bmcServer();
    await app();
    const ids: string[] = [];
    for (const [i, vendor] of ['dell', 'generic', 'dell'].entries()) ids.push((await machineBehind(server, `lst-${i}`, `52:54:00:77:00:0${i}`, {}, vendor)).id);
    const get = async (q: string) => {
      const res = await f!.app.inject({ headers: f!.auth(), method: 'GET', url: `/api/v1/bmcs${q}` });
      return { status: res.statusCode, body: res.json() as { items: Array<{ machineId: string; vendor: { id: string } }>; total: number; limit: number; offset: number } };
    };
    expect((await get('')).body).toMatchObject({ total: 3, limit: 100, offset: 0 });
    const dell = (await get('?vendor=DELL')).body;
    expect(dell.total).toBe(2);
    expect(dell.items.map((b) => b.machineId).sort()).toEqual([ids[0], ids[2]].sort());
    const second = (await get('?vendor=dell&limit=1&offset=1')).body;
    expect(second).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(second.items).toHaveLength(1);
    expect(dell.items.map((b) => b.machineId)).toContain(second.items[0]!.machineId);
    expect((await get('?vendor=hpe')).body).toEqual({ items: [], total: 0, limit: 100, offset: 0 });
    expect((await get('?limit=0')).status).toBe(400);
    expect((await get('?color=red')).status).toBe(400);
  });
});
