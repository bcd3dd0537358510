import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { openIsoBuffer } from '../../server/iso9660/reader.js';
import { Lifecycle } from '../../server/lifecycle/lifecycle.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

const DISKS = [
  { path: '/dev/disk/by-id/nvme-OS_DISK_1', role: 'os', sizeGb: 480 },
  { path: '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', role: 'storage', sizeGb: 1920 },
];
const PROFILE = {
  kernel: 'appliance/kernel',
  initrds: ['appliance/initrd'],
  cmdline: 'rd.neednet=1 ip=dhcp netboot install-mode config_url={{configUrl}}',
  userData: {
    users: [{ name: 'kairos', passwordHash: '$6$rounds=4096$abcdefgh$SECRETHASHVALUE', groups: ['admin'], sshKeys: ['ssh-ed25519 AAAAC3Nza test@rack'] }],
    ntpServers: ['192.0.2.123'],
    proxy: { https: 'http://192.0.2.80:3128', noProxy: '10.0.0.0/8' },
  },
};

let f: HttpFixture | null = null;
afterEach(async () => {
  await f?.cleanup();
  f = null;
});

async function fixture(extra: Record<string, unknown> = {}) {
  f = await buildHttpFixture({ profiles: { appliance: PROFILE }, boot: { defaultProfile: 'appliance' }, ...extra });
  return f;
}

const get = (path: string) => f!.app.inject({ method: 'GET', url: path });
const post = (path: string) => f!.app.inject({ method: 'POST', url: path });
const state = async (id: string) => (await f!.store.machines.get(id))!.state;

describe('install lifecycle through the boot paths', () => {
  it('walks booting-installer → installing → installed on the callbacks, then hands the next boot to the disk', async () => {
    await fixture();
    const m = await f!.addMachine({ name: 'cp-1', macs: ['02:00:00:00:00:01'], disks: DISKS, network: { hostname: 'cp-1', ip: '192.0.2.11', prefix: 24, gateway: '192.0.2.1', dns: ['192.0.2.53'], vlan: 120, mtu: 9000, interface: 'eno1' } });
    const script = await get(f!.bootPath(m, '/script.ipxe'));
    expect(script.body).toContain(`config_url=${f!.urls.userData(m)}`);
    expect(await state(m.id)).toBe('booting-installer');

    const ud = await get(f!.bootPath(m, '/user-data'));
    expect(ud.statusCode).toBe(200);
    expect(ud.body.startsWith('#cloud-config\n')).toBe(true);
    expect(await post(f!.bootPath(m, '/callback/install-start')).then((r) => r.statusCode)).toBe(200);
    expect(await state(m.id)).toBe('installing');
    // A retried callback is accepted without a second transition.
    expect(await post(f!.bootPath(m, '/callback/install-start')).then((r) => r.statusCode)).toBe(200);
    expect(await post(f!.bootPath(m, '/callback/install-done')).then((r) => r.statusCode)).toBe(200);
    expect(await state(m.id)).toBe('installed');

    const again = await get(f!.bootPath(m, '/script.ipxe'));
    expect(again.body).toContain('exit 1');
    expect(again.body).not.toContain('kernel ');
    expect(await post(f!.bootPath(m, '/callback/first-boot')).then((r) => r.body)).toContain('first boot recorded');
    const kinds = (await f!.store.events.listForMachine(m.id)).map((e) => e.kind);
    expect(kinds).toEqual([
      'lifecycle.transition',
      'script.served',
      'userdata.served',
      'lifecycle.transition',
      'lifecycle.transition',
      'script.served',
      'lifecycle.first-boot',
    ]);
  });

  it('renders Kairos install, users, stylus site settings and callback stages, and keeps the hash off the timeline', async () => {
    await fixture();
    const m = await f!.addMachine({ name: 'cp-1', macs: ['02:00:00:00:00:01'], disks: DISKS, network: { hostname: 'edge-cp-1', ip: '192.0.2.11', prefix: 24, gateway: '192.0.2.1', dns: ['192.0.2.53'], vlan: 120, mtu: 9000, interface: 'eno1' } });
    const doc = parseYaml((await get(f!.bootPath(m, '/user-data'))).body) as Record<string, any>;
    expect(doc.install).toEqual({ device: '/dev/disk/by-id/nvme-OS_DISK_1', auto: true, reboot: true });
    expect(doc.users).toEqual([{ name: 'kairos', passwd: PROFILE.userData.users[0]!.passwordHash, groups: ['admin'], ssh_authorized_keys: ['ssh-ed25519 AAAAC3Nza test@rack'] }]);
    expect(doc.stylus.managementMode).toBe('local');
    expect(doc.stylus.installationMode).toBe('airgap');
    expect(doc.stylus.enableMultiNode).toBe(true);
    expect(doc.stylus.site.hostName).toBe('edge-cp-1');
    expect(doc.stylus.site.ntpServers).toEqual(['192.0.2.123']);
    expect(doc.stylus.site.network).toEqual({
      interfaces: { eno1: { type: 'static', ipAddress: '192.0.2.11', mask: '255.255.255.0', gateway: '192.0.2.1', nameserver: '192.0.2.53', vlanId: 120, mtu: 9000 } },
      nameserver: '192.0.2.53',
      httpsProxy: 'http://192.0.2.80:3128',
      noProxy: '10.0.0.0/8',
    });
    for (const [step, stage] of [['install-start', 'kairos-install.pre'], ['install-done', 'after-install'], ['first-boot', 'network']] as const) {
      const cmds = (doc.stages[stage] as Array<{ commands: string[] }>).flatMap((s) => s.commands).join(' ');
      expect(cmds).toContain(f!.urls.callback(m, step));
    }
    const stored = JSON.stringify(await f!.store.events.listForMachine(m.id));
    expect(stored).not.toContain('SECRETHASHVALUE');
  });

  it('merges the operator YAML over the template, and still appends the callback stages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-extra-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const extraFile = join(dir, 'site.yaml');
    writeFileSync(extraFile, 'install:\n  device: /dev/disk/by-path/pci-0000:00:1f.2-ata-1\n  poweroff: false\nstylus:\n  site:\n    tags: { rack: r12 }\nstages:\n  network:\n    - name: site hook\n      commands: [echo hi]\n');
    await fixture({ profiles: { appliance: { ...PROFILE, userData: { ...PROFILE.userData, extraFile } } } });
    const m = await f!.addMachine({ name: 'w-1', macs: ['02:00:00:00:00:02'] }); // no disks: the operator names the device
    const doc = parseYaml((await get(f!.bootPath(m, '/user-data'))).body) as Record<string, any>;
    expect(doc.install).toEqual({ device: '/dev/disk/by-path/pci-0000:00:1f.2-ata-1', auto: true, reboot: true, poweroff: false });
    expect(doc.stylus.site.tags).toEqual({ rack: 'r12' });
    expect(doc.stylus.managementMode).toBe('local');
    expect((doc.stages.network as Array<{ name: string }>).map((s) => s.name)).toEqual(['site hook', 'rackboot first-boot']);
  });

  it('refuses to install to "auto" on a machine with several disks and no OS disk, failing it with the reason', async () => {
    await fixture();
    const m = await f!.addMachine({ name: 'cp-2', macs: ['02:00:00:00:00:03'], disks: DISKS.map((d) => ({ path: d.path })) });
    await get(f!.bootPath(m, '/script.ipxe'));
    const ud = await get(f!.bootPath(m, '/user-data'));
    expect(ud.statusCode).toBe(422);
    expect(ud.body).toContain('none has role os');
    const after = (await f!.store.machines.get(m.id))!;
    expect(after.state).toBe('failed');
    expect(after.stateReason).toContain('none has role os');
  });

  it('refuses callbacks out of order and records them', async () => {
    await fixture();
    const m = await f!.addMachine({ name: 'cp-3', macs: ['02:00:00:00:00:04'], disks: [DISKS[0]] });
    const r = await post(f!.bootPath(m, '/callback/install-done'));
    expect(r.statusCode).toBe(409);
    expect(await state(m.id)).toBe('ready');
    expect((await f!.store.events.listForMachine(m.id)).map((e) => e.kind)).toEqual(['callback.rejected']);
    expect((await post(f!.bootPath(m, '/callback/nonsense'))).statusCode).toBe(404);
  });

  it('detects an installer boot loop and falls through to the disk', async () => {
    await fixture({ lifecycle: { maxInstallerBoots: 2 } });
    const m = await f!.addMachine({ name: 'cp-4', macs: ['02:00:00:00:00:05'], disks: [DISKS[0]] });
    expect((await get(f!.bootPath(m, '/script.ipxe'))).body).toContain('kernel ');
    expect((await get(f!.bootPath(m, '/script.ipxe'))).body).toContain('kernel ');
    const third = await get(f!.bootPath(m, '/script.ipxe'));
    expect(third.body).toContain('exit 1');
    const after = (await f!.store.machines.get(m.id))!;
    expect(after.state).toBe('failed');
    expect(after.stateReason).toMatch(/boot loop: the installer booted 2 times/);
  });

  it('re-provisions on request: new token, old URLs revoked, installer served again', async () => {
    await fixture();
    const m = await f!.addMachine({ name: 'cp-5', macs: ['02:00:00:00:00:06'], disks: [DISKS[0]] });
    await f!.store.machines.transition(m.id, ['ready'], 'installed', null);
    const oldScript = f!.bootPath(m, '/script.ipxe');
    const r = await f!.app.inject({ method: 'POST', url: `/api/v1/machines/${m.id}/provision`, headers: f!.auth() });
    expect(r.statusCode).toBe(200);
    const fresh = (await f!.store.machines.get(m.id))!;
    expect(fresh.state).toBe('provisioning');
    expect(fresh.tokenGeneration).toBe(m.tokenGeneration + 1);
    expect((await get(oldScript)).statusCode).toBe(404);
    expect((await get(f!.bootPath(fresh, '/script.ipxe'))).body).toContain('kernel ');
    expect(await state(m.id)).toBe('booting-installer');
    // No second provision while an install runs.
    expect((await f!.app.inject({ method: 'POST', url: `/api/v1/machines/${m.id}/provision`, headers: f!.auth() })).statusCode).toBe(409);
  });
});

describe('stage timeouts', () => {
  it('fails a machine that overstays its stage, with the reason and its last events', async () => {
    await fixture();
    const lc = new Lifecycle(f!.store.machines, f!.store.events, f!.timeline, f!.cfg.lifecycle, pino({ level: 'silent' }));
    const m = await f!.addMachine({ name: 'cp-6', macs: ['02:00:00:00:00:07'], disks: [DISKS[0]] });
    await get(f!.bootPath(m, '/script.ipxe'));
    await post(f!.bootPath(m, '/callback/install-start'));
    const entered = Date.parse((await f!.store.machines.get(m.id))!.stateEnteredAt);
    expect(await lc.checkTimeouts(entered + (f!.cfg.lifecycle.installingSeconds - 1) * 1000)).toBe(0);
    expect(await state(m.id)).toBe('installing');
    expect(await lc.checkTimeouts(entered + (f!.cfg.lifecycle.installingSeconds + 5) * 1000)).toBe(1);
    const after = (await f!.store.machines.get(m.id))!;
    expect(after.state).toBe('failed');
    expect(after.stateReason).toMatch(/timed out in installing after \d+ s \(limit 3600 s\)/);
    const failed = (await f!.store.events.listForMachine(m.id)).find((e) => e.kind === 'lifecycle.failed')!;
    expect((failed.detail!.lastEvents as Array<{ kind: string }>).map((e) => e.kind)).toContain('script.served');
  });
});

describe('NoCloud cidata ISO', () => {
  it('carries the same user-data and a meta-data, readable as an ISO9660 volume labelled cidata', async () => {
    await fixture();
    const m = await f!.addMachine({ name: 'cp-7', macs: ['02:00:00:00:00:08'], disks: [DISKS[0]], network: { hostname: 'edge-cp-7' } });
    const r = await get(f!.bootPath(m, '/cidata.iso'));
    expect(r.statusCode).toBe(200);
    const opened = await openIsoBuffer(r.rawPayload);
    if (!opened.ok) throw new Error(opened.reason);
    expect(opened.iso.volumeId).toBe('cidata');
    const ud = await opened.iso.readFile('/user-data', { maxBytes: 1 << 20 });
    const md = await opened.iso.readFile('/meta-data', { maxBytes: 1 << 20 });
    expect(ud.ok && ud.data.toString()).toBe((await get(f!.bootPath(m, '/user-data'))).body);
    expect(md.ok && md.data.toString()).toBe(`instance-id: rackboot-${m.id}-1\nlocal-hostname: edge-cp-7\n`);
    const ranged = await f!.app.inject({ url: f!.bootPath(m, '/cidata.iso'), headers: { range: 'bytes=32768-32773' } });
    expect(ranged.statusCode).toBe(206);
    expect(ranged.rawPayload.subarray(1).toString()).toBe('CD001');
    await opened.iso.close();
    // The seed is built once per version of the machine: a changed machine gets a fresh one.
    await f!.store.machines.update(m.id, { network: { hostname: 'edge-cp-7b' } });
    const again = await openIsoBuffer((await get(f!.bootPath(m, '/cidata.iso'))).rawPayload);
    if (!again.ok) throw new Error(again.reason);
    const md2 = await again.iso.readFile('/meta-data', { maxBytes: 1 << 20 });
    expect(md2.ok && md2.data.toString()).toBe(`instance-id: rackboot-${m.id}-1\nlocal-hostname: edge-cp-7b\n`);
    await again.iso.close();
  });
});
