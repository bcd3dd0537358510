// Parsers and pure helpers of the Redfish library, on the vendor samples in
// test/fixtures/redfish (error bodies, tasks, service roots, slots).

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { byIdHints, certificateFingerprint, detectVendor, normalizeFingerprint, normalizeMac, parseErrorBody } from '../../redfish/index.js';
import { httpError } from '../../redfish/errors.js';
import { sanitizeEtag, strongEtag } from '../../redfish/resources/common.js';
import { parseServiceRoot } from '../../redfish/resources/service-root.js';
import { parseComputerSystem, parseResetActionInfo } from '../../redfish/resources/systems.js';
import { parseTask, taskOutcome } from '../../redfish/resources/tasks.js';
import { parseVirtualMedia } from '../../redfish/resources/virtual-media.js';
import { parseManager } from '../../redfish/resources/managers.js';
import { chooseResetType } from '../../redfish/operations/power.js';
import { standardBootTarget } from '../../redfish/oem/generic.js';
import { supermicroStrategy } from '../../redfish/oem/supermicro.js';
import { FIXTURE_ROOT } from '../support/redfish-fixture-server.js';
import { testPki } from '../support/redfish-harness.js';
import type { VendorContext } from '../../redfish/oem/types.js';

const sample = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURE_ROOT, 'samples', name), 'utf8')) as unknown;
const fixture = (vendor: string, path: string): unknown =>
  JSON.parse(readFileSync(join(FIXTURE_ROOT, vendor, path.replace(/^\/redfish\/v1\/?/, ''), 'index.json'), 'utf8')) as unknown;

describe('error bodies', () => {
  it('parses the standard body with several ExtendedInfo messages', () => {
    const e = parseErrorBody(sample('sushy-error.json'));
    expect(e.redfishCode).toBe('Base.1.0.GeneralError');
    expect(e.messages.map((m) => m.messageId)).toEqual(['Base.1.0.PropertyValueNotInList', 'Base.1.0.PropertyNotWriteable', 'Base.1.0.MalformedJSON']);
    expect(e.messages[0]).toMatchObject({ messageArgs: ['RED', 'IndicatorLED'], relatedProperties: ['#/IndicatorLED'], severity: 'Warning' });
  });

  it('accepts ExtendedInfo as a single object (iDRAC)', () => {
    const e = parseErrorBody(sample('sushy-error-single-ext-info.json'));
    expect(e.messages).toHaveLength(1);
    expect(e.messages[0]!.resolution).toMatch(/unsupported media type/);
  });

  it('accepts Dell MessageArgs given as the string "[]"', () => {
    const e = parseErrorBody(sample('dell-error-pending-job.json'));
    expect(e.messages[0]).toMatchObject({ messageId: 'IDRAC.2.8.LC068', messageArgs: [], relatedProperties: [] });
  });

  it('accepts the inner error object alone (gofish sample)', () => {
    expect(parseErrorBody(sample('gofish-error-inner.json')).messages).toHaveLength(2);
  });

  it('builds RedfishErrors that match MessageIds across registry versions', () => {
    const err = httpError(400, 'POST', '/x', sample('sushy-transfer-proto-required-3.json'));
    expect(err.code).toBe('RB_REDFISH_HTTP');
    expect(err.hasMessageId('ActionParameterMissing')).toBe(true);
    expect(err.hasMessageId('Base.1.12.ActionParameterMissing')).toBe(true);
    expect(err.hasMessageId('ParameterMissing')).toBe(false);
    expect(err.message).toContain('requires the parameter TransferProtocolType');
    expect(httpError(403, 'GET', '/x', undefined).code).toBe('RB_REDFISH_AUTH');
    expect(parseErrorBody('<html>oops</html>')).toEqual({ messages: [] });
  });
});

describe('tasks', () => {
  it('maps task states to running/completed/failed', () => {
    const outcome = (n: string) => taskOutcome(parseTask(sample(n)));
    expect(outcome('bmclib-task-completed.json')).toBe('completed');
    expect(outcome('bmclib-task-failed.json')).toBe('failed'); // Supermicro's non-standard "Failed"
    for (const s of ['pending', 'running', 'scheduled', 'starting', 'unknown']) expect(outcome(`bmclib-task-${s}.json`)).toBe('running');
    expect(outcome('dmtf-pmem-taskmonitor.json')).toBe('running');
    expect(taskOutcome({ state: 'Completed', status: 'Critical', messages: [] })).toBe('failed');
    expect(taskOutcome({ state: 'Exception', messages: [] })).toBe('failed');
  });

  it('reads the monitor, percentage and messages', () => {
    const t = parseTask(sample('sushy-task-monitor.json'));
    expect(t).toMatchObject({ id: '545', taskMonitor: '/taskmon/545', percentComplete: 100, state: 'Completed' });
    expect(t.messages[0]!.messageId).toBe('Base.1.0.PropertyNotWriteable');
    const dell = parseTask(sample('dell-task-jid.json'));
    expect(dell).toMatchObject({ id: 'JID_257309938313', state: 'Starting' });
    expect(dell.messages[0]!.message).toBe('Task\u00a0successfully\u00a0scheduled.'); // iDRAC writes non-breaking spaces
  });
});

describe('identity helpers', () => {
  it('normalises MAC addresses and drops zero/garbage', () => {
    expect(normalizeMac('7C:D3:0A:44:55:66')).toBe('7c:d3:0a:44:55:66');
    expect(normalizeMac('7c-d3-0a-44-55-66')).toBe('7c:d3:0a:44:55:66');
    expect(normalizeMac('7cd3.0a44.5566')).toBe('7c:d3:0a:44:55:66');
    expect(normalizeMac('00:00:00:00:00:00')).toBeUndefined();
    expect(normalizeMac('not a mac')).toBeUndefined();
    expect(normalizeMac(null)).toBeUndefined();
  });

  it('derives /dev/disk/by-id style names from drive identifiers', () => {
    expect(byIdHints({ identifiers: [{ format: 'NAA', name: '5000C500A1B2C3D4' }], protocol: 'SAS', model: 'ST600', serialNumber: 'S1' })).toEqual(['wwn-0x5000c500a1b2c3d4']);
    expect(byIdHints({ identifiers: [{ format: 'NAA', name: '0x5002538E40A1B2C3' }], protocol: 'SATA', model: 'Samsung SSD 860', serialNumber: 'S3Z9NB0K' })).toEqual([
      'wwn-0x5002538e40a1b2c3',
      'ata-Samsung_SSD_860_S3Z9NB0K',
    ]);
    expect(byIdHints({ identifiers: [{ format: 'NGUID', name: '01000000-0000-0000-8CE3-8E1000000001' }], protocol: 'NVMe' })).toEqual(['nvme-eui.01000000000000008ce38e1000000001']);
    expect(byIdHints({ identifiers: [{ format: 'UUID', name: 'x' }], protocol: 'SAS' })).toEqual([]);
  });

  it('sanitises ETags like sushy and gofish do', () => {
    expect(sanitizeEtag('W/"abc-gzip"')).toBe('W/"abc"');
    expect(sanitizeEtag('"abc"')).toBe('"abc"');
    expect(sanitizeEtag('W/""')).toBeUndefined();
    expect(sanitizeEtag('')).toBeUndefined();
    expect(sanitizeEtag('c54172a08a2b5db8321ef2d79e8850b2')).toBe('c54172a08a2b5db8321ef2d79e8850b2');
    expect(strongEtag('W/"gen-2"')).toBe('"gen-2"');
  });

  it('computes certificate fingerprints like openssl/Node do', () => {
    const p = testPki();
    const der = new X509Certificate(p.bmc.certPem).raw;
    expect(certificateFingerprint(der)).toBe(p.bmc.fingerprint256);
    expect(normalizeFingerprint(`sha256:${p.bmc.fingerprint256.toLowerCase()}`)).toBe(p.bmc.fingerprint256);
  });
});

describe('resource parsers', () => {
  it('reads Reset allowed values inline or from ActionInfo', () => {
    const ilo = parseComputerSystem(fixture('hpe-ilo5', 'Systems/1'), '/redfish/v1/Systems/1/');
    expect(ilo.reset?.allowed).toEqual(['On', 'ForceOff', 'ForceRestart', 'Nmi', 'PushPowerButton']);
    const smc = parseComputerSystem(fixture('supermicro', 'Systems/1'), '/redfish/v1/Systems/1');
    expect(smc.reset).toEqual({ target: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', actionInfo: '/redfish/v1/Systems/1/ResetActionInfo' });
    expect(parseResetActionInfo(sample('dmtf-actioninfo-reset.json'))).toEqual(['On', 'ForceOn', 'ForceOff']);
  });

  it('chooses reset types within the same intent only', () => {
    expect(chooseResetType('GracefulShutdown', ['On', 'ForceOff', 'PushPowerButton'])).toBe('PushPowerButton');
    expect(chooseResetType('On', ['ForceOn', 'ForceOff'])).toBe('ForceOn');
    expect(chooseResetType('ForceRestart', ['PowerCycle'])).toBe('PowerCycle');
    expect(chooseResetType('Nmi', undefined)).toBe('Nmi');
    expect(() => chooseResetType('GracefulShutdown', ['On', 'ForceOff'])).toThrow(/not offered/);
  });

  it('maps boot targets: standard and Supermicro UsbCd', () => {
    expect(standardBootTarget('Cd', ['Pxe', 'UsbCd'])).toBe('UsbCd');
    expect(standardBootTarget('UefiHttp', undefined)).toBe('UefiHttp');
    expect(() => standardBootTarget('UefiHttp', ['Pxe', 'Cd'])).toThrow(/not offered/);
    const ctx = (model: string) => ({ system: { model } }) as unknown as VendorContext;
    expect(supermicroStrategy.bootTarget('Cd', ['Cd', 'UsbCd'], ctx('SYS-821GE-TNHR'))).toBe('UsbCd');
    expect(supermicroStrategy.bootTarget('Cd', ['Cd', 'UsbCd'], ctx('ARS-111GL-NHR'))).toBe('Cd');
    expect(supermicroStrategy.bootTarget('Pxe', ['Pxe'], ctx('X'))).toBe('Pxe');
  });

  it('parses the iLO 5 OEM-only slot and the OpenBMC proxy slot', () => {
    const hpe = parseVirtualMedia(sample('hpe-vmedia-inserted.json'), '/redfish/v1/Managers/1/VirtualMedia/2/');
    expect(hpe).toMatchObject({ inserted: true, image: 'http://172.17.1.121:8081/test', connectedVia: 'URI' });
    expect(hpe.insertTarget).toBeUndefined();
    expect(hpe.hpe?.insertTarget).toBe('/redfish/v1/Managers/1/VirtualMedia/2/Actions/Oem/Hpe/HpeiLOVirtualMedia.InsertVirtualMedia/');
    const proxy = parseVirtualMedia(fixture('openbmc', 'Managers/bmc/VirtualMedia/Slot_0'), '/x');
    const legacy = parseVirtualMedia(fixture('openbmc', 'Managers/bmc/VirtualMedia/Slot_1'), '/y');
    expect([proxy.openbmcProxy, legacy.openbmcProxy]).toEqual([true, false]);
  });

  it('detects vendors from roots without a Vendor property', () => {
    // Supermicro Redfish 1.9.0 root: no Vendor, only Oem.Supermicro.
    expect(detectVendor(parseServiceRoot(sample('smc-1.9.0-serviceroot.json'))).id).toBe('supermicro');
    // iLO 5: Oem.Hpe, generation from the manager firmware string.
    const ilo = detectVendor(parseServiceRoot(fixture('hpe-ilo5', '')), parseManager(fixture('hpe-ilo5', 'Managers/1'), '/redfish/v1/Managers/1/'));
    expect(ilo).toMatchObject({ id: 'hpe', product: 'iLO 5', generation: 5, firmwareVersion: '1.15' });
    // Nothing in the root: the System's Manufacturer decides.
    const sys = parseComputerSystem(fixture('lenovo-xcc', 'Systems/1'), '/redfish/v1/Systems/1');
    expect(detectVendor(parseServiceRoot({}), undefined, sys).id).toBe('lenovo');
    expect(detectVendor(parseServiceRoot({})).id).toBe('generic');
  });
});
