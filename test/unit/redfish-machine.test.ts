// RedfishMachine per vendor, against the HTTPS fixture server: discovery and the ambiguity rule,
// vendor detection, inventory, power, one-time boot with read-back, virtual media fallbacks.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedfish, RedfishError, RedfishMachine } from '../../redfish/index.js';
import { FIXTURE_ROOT, type FixtureServerOptions } from '../support/redfish-fixture-server.js';
import { harness, testPki, type Harness } from '../support/redfish-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function open(server: Omit<FixtureServerOptions, 'tls'>, systemId?: string): Promise<RedfishMachine> {
  h = await harness(server, systemId === undefined ? {} : { systemId });
  return RedfishMachine.open(h.client);
}

async function rejection(p: Promise<unknown>): Promise<RedfishError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RedfishError) return err;
    throw err;
  }
  throw new Error('expected a RedfishError');
}

function writes(): { method: string; path: string }[] {
  return h!.server.requests.filter((r) => r.method !== 'GET' && !/Sessions/.test(r.path)).map((r) => ({ method: r.method, path: r.path }));
}

describe('discovery', () => {
  it('uses the only system and its manager', async () => {
    const m = await open({ fixture: 'dmtf-rackmount1' });
    expect(m.system.id).toBe('437XR1138R2');
    expect(m.managerPath).toBe('/redfish/v1/Managers/BMC');
    expect(m.vendor.id).toBe('generic');
  });

  describe('several systems (a multi-node endpoint)', () => {
    async function twoSystems(systemId?: string): Promise<RedfishMachine> {
      h = await harness({ fixture: 'dmtf-rackmount1' }, systemId === undefined ? {} : { systemId });
      const first = h.server.resource('/redfish/v1/Systems/437XR1138R2');
      h.server.addResource('/redfish/v1/Systems/NODE2', { ...structuredClone(first), Id: 'NODE2', '@odata.id': '/redfish/v1/Systems/NODE2', UUID: '11111111-2222-3333-4444-555555555555' });
      h.server.mutate('/redfish/v1/Systems', { Members: [{ '@odata.id': '/redfish/v1/Systems/437XR1138R2' }, { '@odata.id': '/redfish/v1/Systems/NODE2' }], 'Members@odata.count': 2 });
      return RedfishMachine.open(h.client);
    }

    it('refuses to choose: RB_REDFISH_SYSTEM_AMBIGUOUS, nothing changed', async () => {
      const err = await rejection(twoSystems());
      expect(err.code).toBe('RB_REDFISH_SYSTEM_AMBIGUOUS');
      expect(err.message).toContain('437XR1138R2, NODE2');
      expect(writes()).toEqual([]);
    });

    it('takes the configured systemId (by Id or by UUID)', async () => {
      expect((await twoSystems('NODE2')).system.id).toBe('NODE2');
      await h!.close();
      h = undefined;
      expect((await twoSystems('38947555-7742-3448-3784-823347823834')).system.id).toBe('437XR1138R2');
    });

    it('never falls back to "all systems" when the systemId matches nothing', async () => {
      const err = await rejection(twoSystems('NODE3'));
      expect(err.code).toBe('RB_REDFISH_SYSTEM_NOT_FOUND');
      expect(writes()).toEqual([]);
    });
  });

  it('connectRedfish closes the client (deletes the session) when discovery fails', async () => {
    h = await harness({ fixture: 'dmtf-rackmount1' });
    h.server.mutate('/redfish/v1/Systems', { Members: [], 'Members@odata.count': 0 });
    const err = await rejection(connectRedfish({ baseUrl: h.server.url, username: 'admin', password: 'secret', tls: { caBundle: testPki().ca.certPem } }));
    expect(err.code).toBe('RB_REDFISH_SYSTEM_NOT_FOUND');
    expect(h.server.sessionsCreated).toBe(1);
    expect(h.server.sessionsDeleted).toBe(1);
  });

  it.each([
    ['dell-idrac9', { id: 'dell', product: 'iDRAC9', generation: 9, firmwareVersion: '3.34.34.34', managerModel: '14G Monolithic' }],
    ['dell-idrac10', { id: 'dell', product: 'iDRAC10', generation: 10, firmwareVersion: '1.20.50.52' }],
    ['hpe-ilo5', { id: 'hpe', product: 'iLO 5', generation: 5, firmwareVersion: '1.15' }],
    ['hpe-ilo6', { id: 'hpe', product: 'iLO 6', generation: 6, firmwareVersion: '1.70' }],
    ['lenovo-xcc', { id: 'lenovo', product: 'XCC' }],
    ['supermicro', { id: 'supermicro', managerModel: 'ASPEED', firmwareVersion: '01.01.06' }],
    ['openbmc', { id: 'openbmc', managerModel: 'OpenBmc' }],
    ['sushy-tools', { id: 'generic' }],
    ['ami-quanta', { id: 'generic' }],
  ] as const)('detects the vendor of %s', async (fixture, expected) => {
    const m = await open({ fixture, sessions: fixture === 'sushy-tools' ? 'absent' : 'standard' });
    expect(m.vendor).toMatchObject(expected);
    expect(m.strategy.id).toBe(expected.id);
  });
});

describe('inventory', () => {
  it('Dell iDRAC9: identity, CPU, memory, NIC MACs, RAID drives with by-id hints, boot mode, Secure Boot', async () => {
    const m = await open({ fixture: 'dell-idrac9' });
    const inv = await m.inventory();
    expect(inv.system).toMatchObject({ uuid: '4c4c4544-004c-4410-8058-c6c04f443533', serialNumber: 'CNCMU0005400IJ', model: 'PowerEdge R6515', manufacturer: 'Dell Inc.', sku: 'FOOXD53' });
    expect(inv.cpu).toEqual({ count: 1, model: 'AMD EPYC 7402P 24-Core Processor', logicalProcessorCount: 48 });
    expect(inv.memoryGiB).toBe(64);
    expect(inv.macs).toEqual(['b0:26:28:c1:4a:10', 'b0:26:28:c1:4a:11', 'd0:8e:79:bb:3e:e8']);
    expect(inv.drives.map((d) => [d.id, d.mediaType, d.protocol, d.capacityBytes, d.serialNumber, d.byIdHints])).toEqual([
      ['Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1', 'HDD', 'SAS', 600127266816, 'S0M3EVL6', ['wwn-0x5000c50095a6c3bb']],
      ['Disk.Bay.1:Enclosure.Internal.0-1:RAID.Integrated.1-1', 'SSD', 'SATA', 480103981056, 'S47MNA0M123456', ['wwn-0x5002538e40a1b2c3', 'ata-MZ7KH480HAHQ0D3_S47MNA0M123456']],
    ]);
    expect(inv.boot).toMatchObject({ mode: 'Legacy', overrideEnabled: 'Disabled', overrideTarget: 'None' });
    expect(inv.secureBoot).toMatchObject({ enabled: true, currentBoot: 'Disabled', mode: 'SetupMode' });
    expect(inv.chassis).toMatchObject({ sku: 'FOOXD53', serialNumber: 'CNCMU0005400IJ' });
    expect(inv.powerState).toBe('Off');
    expect(inv.gaps).toEqual([]);
  });

  it('HPE iLO 5: blank-padded serial is absent, trailing-slash paths, empty Storage reported, not fatal', async () => {
    const m = await open({ fixture: 'hpe-ilo5' });
    const inv = await m.inventory();
    expect(inv.system.serialNumber).toBeUndefined(); // iLO sends "                "
    expect(inv.system.model).toBe('ProLiant DL180 Gen10');
    expect(inv.macs).toEqual(['12:44:6a:3b:04:11']);
    expect(inv.cpu).toMatchObject({ count: 2 });
    expect(inv.memoryGiB).toBe(8);
    expect(inv.drives).toEqual([]);
    expect(inv.secureBoot).toMatchObject({ enabled: false, mode: 'UserMode' });
    expect(inv.gaps.some((g) => g.startsWith('SimpleStorage'))).toBe(true);
  });

  it('Lenovo XCC: NVMe drive gets nvme-eui and nvme-<model>_<serial> names', async () => {
    const m = await open({ fixture: 'lenovo-xcc', etags: 'bare' });
    const inv = await m.inventory();
    expect(inv.system).toMatchObject({ serialNumber: 'J100ABCD', model: 'ThinkSystem SR650', sku: '7X06CTO1WW' });
    expect(inv.macs).toEqual(['7c:d3:0a:44:55:66']);
    const nvme = inv.drives.find((d) => d.protocol === 'NVMe')!;
    expect(nvme.byIdHints).toEqual(['nvme-eui.002538b711b2c3d4', 'nvme-SAMSUNG_MZQL23T8HCLS-00A07_S64HNE0R700456']);
    expect(nvme.identifiers).toEqual([{ format: 'EUI', name: '002538B711B2C3D4' }]);
    expect(inv.boot.mode).toBe('Legacy');
  });

  it('Supermicro, OpenBMC and the DMTF mockup: what each BMC has, gaps for what it lacks', async () => {
    let inv = await (await open({ fixture: 'supermicro' })).inventory();
    expect(inv.system).toMatchObject({ uuid: 'D4216600-C32C-11EE-8000-7CC25586E492', serialNumber: 'S514359X4916804', model: 'SYS-821GE-TNHR' });
    expect(inv.macs).toEqual(['7c:c2:55:86:e4:92', '7c:c2:55:86:e4:93']);
    expect(inv.memoryGiB).toBe(2048);
    expect(inv.gaps).toContain('Storage: HTTP 404');
    await h!.close();

    inv = await (await open({ fixture: 'openbmc' })).inventory();
    expect(inv.system).toMatchObject({ id: 'system', model: 'Mt.Jade' });
    expect(inv.boot.allowedTargets).not.toContain('UefiHttp');
    await h!.close();

    inv = await (await open({ fixture: 'dmtf-rackmount1' })).inventory();
    // No Storage: the SimpleStorage devices are the fallback (absent bays skipped; no serials there).
    expect(inv.drives.map((d) => [d.name, d.capacityBytes])).toEqual([
      ['SATA Bay 1', 8000000000000],
      ['SATA Bay 2', 4000000000000],
    ]);
    expect(inv.macs).toContain('12:44:6a:3b:04:11');
    expect(inv.cpu).toEqual({ count: 2, model: 'Multi-Core Intel(R) Xeon(R) processor 7xxx Series', logicalProcessorCount: 16, coreCount: 8 });
  });
});

describe('inventory on the remaining fixtures', () => {
  it.each([
    ['dell-idrac10', { model: 'PowerEdge R660', uuid: '4c4c4544-0035-3310-8052-b7c04f4e3533' }, ['c4:cb:e1:a0:01:02']],
    ['hpe-ilo6', { model: 'ProLiant DL360 Gen11', serialNumber: 'CZ2D1F0ABC' }, []],
    ['sushy-tools', { uuid: '27946b59-9e44-4fa7-8e91-f3527a1ef094', manufacturer: 'Sushy Emulator' }, ['00:11:22:33:44:55']],
    ['ami-quanta', { model: 'QuantaGrid S74G-2U 1S7GZ9Z0001', serialNumber: 'QTWS7G0234700030' }, []],
  ] as const)('%s', async (fixture, system, macs) => {
    const m = await open({ fixture, sessions: fixture === 'sushy-tools' ? 'absent' : 'standard' });
    const inv = await m.inventory();
    expect(inv.system).toMatchObject(system);
    expect(inv.macs).toEqual(macs);
  });
});

describe('power', () => {
  const DELL_RESET = '/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset';

  it('powerOn is idempotent: On once, then a no-op (no 409 from the BMC)', async () => {
    const m = await open({ fixture: 'dell-idrac9', conflictOnRedundantPower: true });
    expect(await m.powerState()).toBe('Off');
    expect(await m.powerOn()).toMatchObject({ changed: true, resetType: 'On' });
    expect(await m.powerState()).toBe('On');
    expect(await m.powerOn()).toEqual({ changed: false, powerState: 'On' });
    expect(h!.server.requestsTo('POST', DELL_RESET).map((r) => r.body)).toEqual([{ ResetType: 'On' }]);
  });

  it('powerOff: ForceOff with force, graceful otherwise, no-op when off', async () => {
    const m = await open({ fixture: 'dell-idrac9', conflictOnRedundantPower: true });
    expect(await m.powerOff()).toEqual({ changed: false, powerState: 'Off' });
    await m.powerOn();
    expect(await m.powerOff({ force: true })).toMatchObject({ changed: true, resetType: 'ForceOff' });
    await m.powerOn();
    expect(await m.powerOff({ wait: true })).toMatchObject({ changed: true, resetType: 'GracefulShutdown', powerState: 'Off' });
  });

  it('iLO 5 has no GracefulShutdown/GracefulRestart: PushPowerButton and ForceRestart stand in', async () => {
    const m = await open({ fixture: 'hpe-ilo5' });
    await m.powerOn();
    expect((await m.powerOff()).resetType).toBe('PushPowerButton');
    expect(await m.powerState()).toBe('Off');
    await m.powerOn();
    expect((await m.reset('GracefulRestart')).resetType).toBe('ForceRestart');
  });

  it('reads allowed values from ActionInfo (Supermicro) and refuses what is not offered', async () => {
    const m = await open({ fixture: 'supermicro' });
    const err = await rejection(m.powerOff());
    expect(err.code).toBe('RB_REDFISH_UNSUPPORTED');
    expect(err.message).toContain('On, ForceOff');
    expect((await m.powerOff({ force: true })).resetType).toBe('ForceOff');
    expect((await rejection(m.reset('ForceRestart'))).code).toBe('RB_REDFISH_UNSUPPORTED');
    expect(h!.server.requestsTo('GET', '/redfish/v1/Systems/1/ResetActionInfo').length).toBeGreaterThan(0);
    expect(h!.server.requestsTo('POST', '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset').map((r) => r.body)).toEqual([{ ResetType: 'ForceOff' }]);
  });

  it('follows a reset answered with 202 and a task monitor', async () => {
    const m = await open({ fixture: 'dmtf-rackmount1', resetTaskPolls: 2 });
    const r = await m.reset('ForceRestart');
    expect(r).toMatchObject({ resetType: 'ForceRestart' });
    expect(h!.server.requestsTo('GET', /TaskMonitors/).map((q) => q.status)).toEqual([202, 202, 200]);
  });

  it('rejects an unknown ResetType', async () => {
    const m = await open({ fixture: 'dmtf-rackmount1' });
    // @ts-expect-error deliberately wrong
    expect((await rejection(m.reset('Explode'))).code).toBe('RB_REDFISH_INVALID_ARGUMENT');
  });
});

describe('one-time boot', () => {
  it('PATCHes the System and reads it back (generic)', async () => {
    const m = await open({ fixture: 'dmtf-rackmount1' });
    const r = await m.setOneTimeBoot('Cd', 'UEFI');
    expect(r).toMatchObject({ target: 'Cd', enabled: 'Once', mode: 'UEFI', via: 'system', path: '/redfish/v1/Systems/437XR1138R2' });
    const [patch] = h!.server.requestsTo('PATCH', '/redfish/v1/Systems/437XR1138R2');
    // Enabled is already Once on this mockup: not re-sent (some BMCs refuse setting the current value).
    expect(patch!.body).toEqual({ Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideMode: 'UEFI' } });
    expect(patch!.headers['if-match']).toMatch(/^"[0-9a-f]{16}"$/); // the ETag read with the System
  });

  it('fails with RB_REDFISH_BOOT_NOT_APPLIED when the BMC says 200 and reverts (Supermicro AS-1015CS-TNR)', async () => {
    const m = await open({ fixture: 'supermicro', bootRevert: true, requireIfMatch: true });
    const err = await rejection(m.setOneTimeBoot('Pxe', 'UEFI'));
    expect(err.code).toBe('RB_REDFISH_BOOT_NOT_APPLIED');
    expect(err.message).toMatch(/override is Disabled/);
    expect(err.message).toMatch(/mode is Legacy/);
  });

  it('Supermicro: virtual CD is UsbCd, full Boot body, with If-Match', async () => {
    const m = await open({ fixture: 'supermicro', requireIfMatch: true });
    const r = await m.setOneTimeBoot('Cd');
    expect(r.target).toBe('UsbCd');
    const [patch] = h!.server.requestsTo('PATCH', '/redfish/v1/Systems/1');
    expect(patch!.body).toEqual({ Boot: { BootSourceOverrideTarget: 'UsbCd', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI' } });
    expect(patch!.headers['if-match']).toMatch(/^"[0-9a-f]+"$/);
    expect(patch!.status).toBe(204);
  });

  it('Lenovo XCC: If-Match (428 otherwise), settings object without Boot override keys is left alone', async () => {
    const m = await open({ fixture: 'lenovo-xcc', etags: 'bare', requireIfMatch: true });
    const r = await m.setOneTimeBoot('Pxe', 'UEFI');
    expect(r).toMatchObject({ target: 'Pxe', via: 'system', mode: 'UEFI' });
    const patches = h!.server.requests.filter((q) => q.method === 'PATCH');
    expect(patches.map((p) => [p.path, p.status])).toEqual([['/redfish/v1/Systems/1', 204]]);
    expect(patches[0]!.headers['if-match']).toMatch(/^[0-9a-f]{16}$/);
    expect(h!.server.requestsTo('GET', '/redfish/v1/Systems/1/Pending')).toHaveLength(1);
  });

  it('AMI: writes the @Redfish.Settings object when it holds the override (System refuses)', async () => {
    const m = await open({ fixture: 'ami-quanta', bootOnlyViaSettings: true });
    const r = await m.setOneTimeBoot('Pxe', 'UEFI');
    expect(r).toMatchObject({ via: 'settings', path: '/redfish/v1/Systems/System_0/SD', target: 'Pxe', enabled: 'Once' });
    expect(h!.server.requestsTo('PATCH', '/redfish/v1/Systems/System_0')).toHaveLength(0);
    expect(h!.server.resource('/redfish/v1/Systems/System_0/SD')['Boot']).toMatchObject({ BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' });
  });

  it('falls back to the settings object when the System refuses the Boot PATCH', async () => {
    const m = await open({ fixture: 'dell-idrac10', bootOnlyViaSettings: true });
    const r = await m.setOneTimeBoot('Pxe');
    expect(r).toMatchObject({ via: 'settings', path: '/redfish/v1/Systems/System.Embedded.1/Settings' });
    expect(h!.server.requestsTo('PATCH', '/redfish/v1/Systems/System.Embedded.1').map((q) => q.status)).toEqual([400]);
  });

  it('retries without BootSourceOverrideMode when the BMC rejects it (HP DL160 Gen10)', async () => {
    const m = await open({ fixture: 'hpe-ilo6', rejectBootMode: true });
    const r = await m.setOneTimeBoot('Pxe', 'UEFI');
    expect(r.target).toBe('Pxe');
    expect(h!.server.requestsTo('PATCH', '/redfish/v1/Systems/1').map((q) => [q.status, q.body])).toEqual([
      [400, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI' } }],
      [204, { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } }],
    ]);
  });

  it('Dell iDRAC9 < 6: virtual CD boot goes through the ImportSystemConfiguration job', async () => {
    const m = await open({ fixture: 'dell-idrac9', dellJobPolls: 2 });
    const r = await m.setOneTimeBoot('Cd');
    expect(r).toMatchObject({ via: 'dell-oem-scp', target: 'VCD-DVD', enabled: 'Once' });
    const [post] = h!.server.requestsTo('POST', '/redfish/v1/Managers/iDRAC.Embedded.1/Actions/Oem/EID_674_Manager.ImportSystemConfiguration');
    expect(post!.body).toEqual({
      ShareParameters: { Target: ['ALL'] },
      ImportBuffer:
        '<SystemConfiguration><Component FQDD="iDRAC.Embedded.1"><Attribute Name="ServerBoot.1#BootOnce">Enabled</Attribute><Attribute Name="ServerBoot.1#FirstBootDevice">VCD-DVD</Attribute></Component></SystemConfiguration>',
    });
    expect(h!.server.dellFirstBootDevice).toBe('VCD-DVD');
    expect(h!.server.requestsTo('GET', /TaskService\/Tasks\/JID_/).map((q) => q.status)).toEqual([202, 202, 200]);
    expect(h!.server.requestsTo('PATCH', '/redfish/v1/Systems/System.Embedded.1')).toHaveLength(0);
    // PXE on the same iDRAC is the standard Boot PATCH.
    expect((await m.setOneTimeBoot('Pxe')).via).toBe('system');
  });

  it('Dell: retries the SCP import while a job is running (RAC0679); reports other errors with their messages', async () => {
    const dellError = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURE_ROOT, 'dell-idrac9', '_errors', `${name}.json`), 'utf8')) as unknown;
    const m = await open({ fixture: 'dell-idrac9', dellJobPolls: 0 });
    const scp = '/redfish/v1/Managers/iDRAC.Embedded.1/Actions/Oem/EID_674_Manager.ImportSystemConfiguration';
    h!.server.fail({ method: 'POST', path: scp, status: 400, body: dellError('400-job-running') });
    expect((await m.setOneTimeBoot('Cd')).via).toBe('dell-oem-scp');
    expect(h!.server.requestsTo('POST', scp).map((q) => q.status)).toEqual([400, 202]);
    expect(h!.sleeps.length).toBeGreaterThan(0);

    h!.server.fail({ method: 'POST', path: scp, status: 400, body: dellError('400-single-extended-info') });
    const err = await rejection(m.setOneTimeBoot('Cd'));
    expect(err).toMatchObject({ code: 'RB_REDFISH_HTTP', status: 400 });
    expect(err.messages).toHaveLength(1); // iDRAC's ExtendedInfo as a single object
    expect(err.messages[0]!.resolution).toMatch(/unsupported media type/);
  });

  it('Dell iDRAC10: the standard Boot PATCH, also for the virtual CD', async () => {
    const m = await open({ fixture: 'dell-idrac10' });
    expect(await m.setOneTimeBoot('Cd')).toMatchObject({ via: 'system', target: 'Cd' });
  });

  it('refuses targets the BMC does not offer, before writing anything', async () => {
    let m = await open({ fixture: 'openbmc' });
    expect((await rejection(m.setOneTimeBoot('UefiHttp'))).code).toBe('RB_REDFISH_UNSUPPORTED');
    expect(writes()).toEqual([]);
    await h!.close();
    m = await open({ fixture: 'dmtf-rackmount1' });
    // @ts-expect-error deliberately wrong
    expect((await rejection(m.setOneTimeBoot('Floppy'))).code).toBe('RB_REDFISH_INVALID_ARGUMENT');
  });

  it('UEFI HTTP boot with a URI; a Continuous override is accepted with a warning (sushy-tools)', async () => {
    const m = await open({ fixture: 'sushy-tools', sessions: 'absent', forceContinuous: true });
    const r = await m.setOneTimeBoot('UefiHttp', 'UEFI', { httpBootUri: 'http://10.0.0.1/boot/ipxe.efi' });
    expect(r.enabled).toBe('Continuous');
    expect(r.warnings.join(' ')).toMatch(/Continuous/);
    const [patch] = h!.server.requestsTo('PATCH', m.system.path);
    expect(patch!.body).toEqual({ Boot: { BootSourceOverrideTarget: 'UefiHttp', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI', HttpBootUri: 'http://10.0.0.1/boot/ipxe.efi' } });
  });

  it('clearBootOverride disables the override and reads it back', async () => {
    const m = await open({ fixture: 'dmtf-rackmount1' });
    const r = await m.clearBootOverride();
    expect(r.enabled).toBe('Disabled');
    expect(h!.server.requestsTo('PATCH', '/redfish/v1/Systems/437XR1138R2')[0]!.body).toEqual({ Boot: { BootSourceOverrideEnabled: 'Disabled' } });
  });
});

describe('virtual media', () => {
  const ISO = 'http://10.0.0.9/images/boot.iso';

  it('generic: InsertMedia with TransferProtocolType, then read back', async () => {
    const m = await open({ fixture: 'sushy-tools', sessions: 'absent' });
    const r = await m.insertMedia(ISO);
    expect(r).toMatchObject({ slot: { id: 'Cd' }, method: 'InsertMedia', ejectedFirst: false });
    const [post] = h!.server.requestsTo('POST', /VirtualMedia\/Cd\/Actions\/VirtualMedia.InsertMedia/);
    expect(post!.body).toEqual({ Image: ISO, TransferProtocolType: 'HTTP' });
  });

  it('falls back to InsertMedia without TransferProtocolType when the BMC rejects it', async () => {
    const m = await open({ fixture: 'sushy-tools', sessions: 'absent', insert: { rejectTransferProtocolType: true } });
    expect((await m.insertMedia(ISO)).method).toBe('InsertMedia-without-protocol');
    expect(h!.server.requestsTo('POST', /InsertMedia/).map((q) => [q.status, q.body])).toEqual([
      [400, { Image: ISO, TransferProtocolType: 'HTTP' }],
      [204, { Image: ISO }],
    ]);
  });

  it('adds TransferMethod when the BMC says it is missing (sushy sample error)', async () => {
    const m = await open({ fixture: 'sushy-tools', sessions: 'absent', insert: { requireTransferMethod: true } });
    expect((await m.insertMedia(ISO, { writeProtected: false })).method).toBe('InsertMedia-with-TransferMethod');
    const last = h!.server.requestsTo('POST', /InsertMedia/).pop()!;
    expect(last.body).toEqual({ Image: ISO, TransferProtocolType: 'HTTP', TransferMethod: 'Stream', WriteProtected: false });
  });

  it('fails with RB_REDFISH_MEDIA_NOT_APPLIED when the BMC says 204 and mounts nothing', async () => {
    const m = await open({ fixture: 'sushy-tools', sessions: 'absent', insert: { noop: true } });
    const err = await rejection(m.insertMedia(ISO));
    expect(err.code).toBe('RB_REDFISH_MEDIA_NOT_APPLIED');
  });

  it('Supermicro: ejects the stale image first, sends no Inserted/WriteProtected', async () => {
    const m = await open({ fixture: 'supermicro', insert: { rejectFlags: true, refuseWhileImageSet: true } });
    const r = await m.insertMedia(ISO, { writeProtected: true });
    expect(r).toMatchObject({ slot: { id: 'CD1' }, method: 'InsertMedia', ejectedFirst: true });
    const posts = h!.server.requests.filter((q) => q.method === 'POST' && /VirtualMedia/.test(q.path));
    expect(posts.map((q) => [q.path.split('/').pop(), q.body])).toEqual([
      ['VirtualMedia.EjectMedia', {}],
      ['VirtualMedia.InsertMedia', { Image: ISO, TransferProtocolType: 'HTTP' }],
    ]);
    expect((await rejection(m.insertMedia(ISO, { slot: 'second' }))).code).toBe('RB_REDFISH_UNSUPPORTED');
  });

  it('HPE iLO 5: OEM InsertVirtualMedia {Image}, BootOnNextServerReset by PATCH, OEM eject with a body', async () => {
    const m = await open({ fixture: 'hpe-ilo5', ejectNeedsBody: true });
    const r = await m.insertMedia(ISO, { bootOnNextReset: true });
    expect(r).toMatchObject({ slot: { id: '2' }, method: 'HpeOem' });
    const oem = h!.server.requestsTo('POST', /HpeiLOVirtualMedia.InsertVirtualMedia/);
    expect(oem.map((q) => q.body)).toEqual([{ Image: ISO }]);
    const patch = h!.server.requestsTo('PATCH', '/redfish/v1/Managers/1/VirtualMedia/2/');
    expect(patch.map((q) => q.body)).toEqual([{ Oem: { Hpe: { BootOnNextServerReset: true } } }]);
    const ejected = await m.ejectMedia();
    expect(ejected).toEqual([{ slot: { id: '2', path: '/redfish/v1/Managers/1/VirtualMedia/2/' }, image: ISO, method: 'HpeOem' }]);
    expect(h!.server.requestsTo('POST', /EjectVirtualMedia/)[0]!.status).toBe(204);
  });

  it('HPE iLO 6: the standard action on the CD slot (slot 1 is USB/floppy)', async () => {
    const m = await open({ fixture: 'hpe-ilo6' });
    expect(await m.insertMedia('https://10.0.0.9/boot.iso')).toMatchObject({ slot: { id: '2' }, method: 'InsertMedia' });
    expect(h!.server.requestsTo('POST', /HpeiLOVirtualMedia/)).toHaveLength(0);
    expect((await rejection(m.insertMedia(ISO, { slot: 'second' }))).code).toBe('RB_REDFISH_UNSUPPORTED');
  });

  it('Lenovo XCC: EXT slots only, eject-before-insert and insert by PATCH with If-Match', async () => {
    const m = await open({ fixture: 'lenovo-xcc', etags: 'bare', requireIfMatch: true });
    const r = await m.insertMedia(ISO);
    expect(r).toMatchObject({ slot: { id: 'EXT1' }, method: 'PATCH', ejectedFirst: true });
    const patches = h!.server.requestsTo('PATCH', '/redfish/v1/Managers/1/VirtualMedia/EXT1');
    expect(patches.map((q) => [q.status, q.body])).toEqual([
      [204, { Image: null, Inserted: false }],
      [204, { Image: ISO, Inserted: true, WriteProtected: true }],
    ]);
    expect(patches.every((q) => /^[0-9a-f]{16}$/.test(q.headers['if-match'] ?? ''))).toBe(true);
    expect(h!.server.requests.some((q) => /RDOC|Remote/.test(q.path) && q.method !== 'GET')).toBe(false);
    // The second slot for a cidata ISO.
    expect(await m.insertMedia('http://10.0.0.9/cidata.iso', { slot: 'second' })).toMatchObject({ slot: { id: 'EXT2' }, method: 'PATCH' });
  });

  it('Dell iDRAC10: slot 1 under the System; no second slot on iDRAC10', async () => {
    const m = await open({ fixture: 'dell-idrac10', etags: 'weak', etagHeader: false, rejectIfMatchOnActions: true });
    expect(await m.insertMedia('https://10.0.0.9/boot.iso')).toMatchObject({ slot: { id: '1', path: '/redfish/v1/Systems/System.Embedded.1/VirtualMedia/1' }, method: 'InsertMedia' });
    expect((await rejection(m.insertMedia(ISO, { slot: 'second' }))).message).toMatch(/no second virtual CD slot/);
    expect((await rejection(m.insertMedia('ftp://10.0.0.9/boot.iso'))).code).toBe('RB_REDFISH_UNSUPPORTED');
  });

  it('Dell iDRAC9 < 6: the CD slot under the Manager', async () => {
    const m = await open({ fixture: 'dell-idrac9' });
    expect(await m.insertMedia(ISO)).toMatchObject({ slot: { id: 'CD', path: '/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD' } });
    expect((await rejection(m.insertMedia(ISO, { slot: 'second' }))).code).toBe('RB_REDFISH_UNSUPPORTED');
  });

  it('OpenBMC: legacy slot only, HTTPS or SMB only', async () => {
    const m = await open({ fixture: 'openbmc', insert: { schemes: ['https', 'smb'] } });
    const err = await rejection(m.insertMedia(ISO));
    expect(err.code).toBe('RB_REDFISH_UNSUPPORTED');
    expect(h!.server.requests.filter((q) => /VirtualMedia/.test(q.path))).toHaveLength(0);
    const r = await m.insertMedia('https://10.0.0.9/boot.iso');
    expect(r).toMatchObject({ slot: { id: 'Slot_1' }, method: 'InsertMedia' });
    expect(h!.server.requestsTo('POST', /Slot_1\/Actions\/VirtualMedia.InsertMedia/)[0]!.body).toEqual({ Image: 'https://10.0.0.9/boot.iso', TransferProtocolType: 'HTTPS' });
    expect(h!.server.requests.some((q) => /Slot_0\/Actions/.test(q.path))).toBe(false);
  });

  it('ejectMedia empties every slot that holds media and leaves empty ones alone', async () => {
    const m = await open({ fixture: 'lenovo-xcc', etags: 'bare', requireIfMatch: true });
    const r = await m.ejectMedia();
    expect(r.filter((x) => x.method !== 'already-empty')).toEqual([
      { slot: { id: 'EXT1', path: '/redfish/v1/Managers/1/VirtualMedia/EXT1' }, image: 'http://192.168.1.2/Core-current.iso', method: 'PATCH' },
    ]);
    expect(h!.server.resource('/redfish/v1/Managers/1/VirtualMedia/EXT1')['Inserted']).toBe(false);
  });
});
