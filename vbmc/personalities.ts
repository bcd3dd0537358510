// Vendor personalities: the resource ids, paths, shapes and quirks of each BMC family, taken from
// the payloads in test/fixtures/redfish (copied from sushy, bmclib, gofish, proliantutils, bmcweb,
// DMTF mockups) and the vendor notes in docs/redfish research (redfish-anchors §2.4-§2.8, §4).
// resources.ts renders the JSON from these facts and the live machine state; app.ts applies the
// behavioural quirks.

export const PERSONALITY_IDS = ['generic', 'dell', 'hpe-ilo5', 'hpe-ilo6', 'lenovo', 'supermicro', 'openbmc'] as const;
export type PersonalityId = (typeof PERSONALITY_IDS)[number];

/** How a virtual media slot is driven. */
export type SlotStyle =
  | 'standard' // #VirtualMedia.InsertMedia / EjectMedia
  | 'patch' // no actions: PATCH Image/Inserted (Lenovo XCC)
  | 'hpe-oem' // only Oem.Hpe #HpeiLOVirtualMedia.InsertVirtualMedia (iLO 5 VirtualMedia.v1_0_0)
  | 'hpe-both' // standard actions and the HPE OEM ones (iLO 6)
  | 'openbmc-proxy'; // NBD over websocket: EjectMedia only, cannot mount a URL

export interface SlotDef {
  id: string;
  name: string;
  mediaTypes: string[];
  style: SlotStyle;
  /** The machine media slot (0 = boot CD, 1 = second CD) behind it; undefined = present but not wired. */
  machineSlot?: number;
}

export interface Personality {
  id: PersonalityId;
  /** ServiceRoot.Vendor / Product (omitted when undefined, as bmcweb and sushy-tools do). */
  vendor?: string;
  product?: string;
  redfishVersion: string;
  rootOem?: Record<string, unknown>;
  systemId: string;
  managerId: string;
  chassisId: string;
  /** iLO 5 writes every @odata.id with a trailing slash. */
  trailingSlash: boolean;
  manufacturer: string;
  model: string;
  managerModel?: string;
  managerFirmware: string;
  managerOem?: Record<string, unknown>;
  /** Links.Sessions of the service root. */
  sessionsPath: string;
  maxSessions: number;
  /** What a login past the limit gets: Dell's 400 RAC0218, or 503 SessionLimitExceeded. */
  sessionLimit: 'dell-400' | '503';
  mediaLocation: 'Systems' | 'Managers';
  slots: SlotDef[];
  /** InsertMedia's TransferProtocolType@Redfish.AllowableValues (iDRAC lists them). */
  insertProtocols?: string[];
  bootTargets: string[];
  /** Publishes BootSourceOverrideMode@Redfish.AllowableValues. */
  bootModeAllowable: boolean;
  resetTypes: string[];
  resetAllowable: 'inline' | 'actioninfo';
  /** Status of a successful Reset POST. */
  resetStatus: 200 | 204;
  etag: 'strong' | 'weak' | 'bare';
  /** 'required': PATCH without If-Match → 428 (Lenovo XCC). Mismatches are 412 everywhere. */
  ifMatch: 'optional' | 'required';
  /** InsertMedia refuses Inserted/WriteProtected parameters (Supermicro X11/X12). */
  insertRejectsFlags: boolean;
  /** EjectMedia needs a JSON body (iLO answers 415 without one). */
  ejectNeedsBody: boolean;
  /** InsertMedia answers 202 with a task monitor and finishes when the image is attached (iDRAC jobs). */
  asyncInsert: boolean;
  /** Only https:// and smb:// images (OpenBMC legacy mode). */
  mediaSchemes: string[];
  /** A Boot PATCH without BootSourceOverrideMode answers 200 and reverts Enabled/Mode (Supermicro AS-1015CS-TNR, bmclib PR #459). */
  bootPatchRevertsWithoutMode: boolean;
  storage: { controllerId: string; controllerName: string; driveId: (i: number) => string };
  nicId: (i: number, mac: string) => string;
}

const STANDARD_RESET = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton', 'PowerCycle'];

const generic: Personality = {
  id: 'generic',
  product: 'rackboot virtual BMC',
  redfishVersion: '1.15.0',
  systemId: '1',
  managerId: 'BMC',
  chassisId: '1U',
  trailingSlash: false,
  manufacturer: 'QEMU',
  model: 'Standard PC (Q35 + ICH9, 2009)',
  managerModel: 'rackboot vbmc',
  managerFirmware: '1.0.0',
  sessionsPath: '/redfish/v1/SessionService/Sessions',
  maxSessions: 16,
  sessionLimit: '503',
  mediaLocation: 'Systems',
  slots: [
    { id: 'CD1', name: 'Virtual CD 1', mediaTypes: ['CD', 'DVD'], style: 'standard', machineSlot: 0 },
    { id: 'CD2', name: 'Virtual CD 2', mediaTypes: ['CD', 'DVD'], style: 'standard', machineSlot: 1 },
  ],
  bootTargets: ['None', 'Pxe', 'Cd', 'Hdd', 'UefiHttp', 'BiosSetup'],
  bootModeAllowable: true,
  resetTypes: STANDARD_RESET,
  resetAllowable: 'inline',
  resetStatus: 204,
  etag: 'strong',
  ifMatch: 'optional',
  insertRejectsFlags: false,
  ejectNeedsBody: false,
  asyncInsert: false,
  mediaSchemes: ['http:', 'https:'],
  bootPatchRevertsWithoutMode: false,
  storage: { controllerId: '1', controllerName: 'Virtio block controller', driveId: (i) => `Disk${i}` },
  nicId: (i) => `NIC${i + 1}`,
};

// iDRAC9 with 7.x firmware (16G): VirtualMedia under the System as slots 1 and 2, standard Boot
// PATCH (no SCP job needed for the virtual CD), sessions limited (RAC0218), config changes as jobs.
const dell: Personality = {
  ...generic,
  id: 'dell',
  vendor: 'Dell',
  product: 'Integrated Dell Remote Access Controller',
  redfishVersion: '1.17.0',
  rootOem: { Dell: { '@odata.type': '#DellServiceRoot.v1_0_0.DellServiceRoot', IsBranded: 0, ServiceTag: 'VBMC001' } },
  systemId: 'System.Embedded.1',
  managerId: 'iDRAC.Embedded.1',
  chassisId: 'System.Embedded.1',
  manufacturer: 'Dell Inc.',
  model: 'PowerEdge R660',
  managerModel: '16G Monolithic',
  managerFirmware: '7.10.30.00',
  managerOem: { Dell: { '@odata.type': '#DellOem.v1_3_0.DellOemResources' } },
  sessionsPath: '/redfish/v1/SessionService/Sessions',
  maxSessions: 8,
  sessionLimit: 'dell-400',
  mediaLocation: 'Systems',
  slots: [
    { id: '1', name: 'VirtualMedia Instance 1', mediaTypes: ['CD', 'DVD', 'USBStick'], style: 'standard', machineSlot: 0 },
    { id: '2', name: 'VirtualMedia Instance 2', mediaTypes: ['CD', 'DVD', 'USBStick'], style: 'standard', machineSlot: 1 },
  ],
  insertProtocols: ['CIFS', 'HTTP', 'HTTPS', 'NFS'],
  bootTargets: ['None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup', 'UefiTarget', 'UefiHttp'],
  bootModeAllowable: false,
  resetTypes: ['On', 'ForceOff', 'ForceRestart', 'GracefulShutdown', 'PushPowerButton', 'Nmi', 'PowerCycle'],
  etag: 'weak',
  asyncInsert: true,
  storage: { controllerId: 'RAID.Integrated.1-1', controllerName: 'PERC H755 Front', driveId: (i) => `Disk.Bay.${i}:Enclosure.Internal.0-1:RAID.Integrated.1-1` },
  nicId: (i) => `NIC.Integrated.1-${i + 1}-1`,
};

// iLO 5 (ProLiant Gen10, VirtualMedia.v1_0_0 firmware): trailing slashes, only OEM insert/eject, one
// CD slot, no GracefulShutdown (graceful off is PushPowerButton), eject needs a body, weak ETags.
const hpeIlo5: Personality = {
  ...generic,
  id: 'hpe-ilo5',
  vendor: 'HPE',
  product: 'ProLiant DL180 Gen10',
  redfishVersion: '1.6.0',
  rootOem: { Hpe: { '@odata.type': '#HpeiLOServiceExt.v2_0_0.HpeiLOServiceExt', Manager: [{ ManagerType: 'iLO 5', ManagerFirmwareVersion: '1.15' }] } },
  systemId: '1',
  managerId: '1',
  chassisId: '1',
  trailingSlash: true,
  manufacturer: 'HPE',
  model: 'ProLiant DL180 Gen10',
  managerFirmware: 'iLO 5 v1.15',
  managerOem: { Hpe: { '@odata.type': '#HpeiLO.v2_1_0.HpeiLO' } },
  sessionsPath: '/redfish/v1/SessionService/Sessions/',
  maxSessions: 10,
  mediaLocation: 'Managers',
  slots: [
    { id: '1', name: 'VirtualMedia', mediaTypes: ['Floppy', 'USBStick'], style: 'hpe-oem' },
    { id: '2', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'hpe-oem', machineSlot: 0 },
  ],
  bootTargets: ['None', 'Cd', 'Hdd', 'Usb', 'SDCard', 'Utilities', 'Diags', 'BiosSetup', 'Pxe', 'UefiShell', 'UefiHttp', 'UefiTarget'],
  bootModeAllowable: false,
  resetTypes: ['On', 'ForceOff', 'ForceRestart', 'Nmi', 'PushPowerButton'],
  resetStatus: 200,
  etag: 'weak',
  ejectNeedsBody: true,
  storage: { controllerId: 'DE00A000', controllerName: 'HPE Smart Array', driveId: (i) => `${i}` },
  nicId: (i) => `${i + 1}`,
};

// iLO 6 (Gen11): standard and OEM vmedia actions, GracefulShutdown offered, no trailing slashes.
const hpeIlo6: Personality = {
  ...hpeIlo5,
  id: 'hpe-ilo6',
  product: 'ProLiant DL360 Gen11',
  redfishVersion: '1.13.0',
  rootOem: { Hpe: { '@odata.type': '#HpeiLOServiceExt.v2_0_0.HpeiLOServiceExt', Manager: [{ ManagerType: 'iLO 6', ManagerFirmwareVersion: '1.70' }] } },
  trailingSlash: false,
  model: 'ProLiant DL360 Gen11',
  managerFirmware: 'iLO 6 v1.70',
  managerOem: { Hpe: { '@odata.type': '#HpeiLO.v2_9_0.HpeiLO' } },
  sessionsPath: '/redfish/v1/SessionService/Sessions',
  slots: [
    { id: '1', name: 'VirtualMedia', mediaTypes: ['Floppy', 'USBStick'], style: 'hpe-both' },
    { id: '2', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'hpe-both', machineSlot: 0 },
  ],
  resetTypes: ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'Nmi', 'PushPowerButton', 'GracefulRestart'],
};

// Lenovo XCC: VirtualMedia under Managers/1 (RDOC1-2 uploads, EXT1-4 remote URLs, Remote1-4),
// no actions: insert/eject by PATCH; If-Match required (428), bare-hex ETags.
const lenovo: Personality = {
  ...generic,
  id: 'lenovo',
  vendor: 'Lenovo',
  product: 'ThinkSystem',
  redfishVersion: '1.15.0',
  systemId: '1',
  managerId: '1',
  chassisId: '1',
  manufacturer: 'Lenovo',
  model: 'ThinkSystem SR650',
  managerFirmware: 'TEE142M-2.41',
  managerOem: { Lenovo: { '@odata.type': '#LenovoManager.v1_0_0.LenovoManagerProperties' } },
  maxSessions: 16,
  mediaLocation: 'Managers',
  slots: [
    { id: 'RDOC1', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch' },
    { id: 'RDOC2', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch' },
    { id: 'EXT1', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch', machineSlot: 0 },
    { id: 'EXT2', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch', machineSlot: 1 },
    { id: 'EXT3', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch' },
    { id: 'EXT4', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch' },
    { id: 'Remote1', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch' },
    { id: 'Remote2', name: 'VirtualMedia', mediaTypes: ['CD', 'DVD'], style: 'patch' },
  ],
  bootTargets: ['None', 'Pxe', 'Cd', 'Usb', 'Hdd', 'BiosSetup', 'Diags', 'UefiTarget', 'UefiHttp'],
  resetTypes: ['On', 'Nmi', 'GracefulShutdown', 'GracefulRestart', 'ForceOn', 'ForceOff', 'ForceRestart'],
  etag: 'bare',
  ifMatch: 'required',
  storage: { controllerId: 'RAID_Slot1', controllerName: 'ThinkSystem RAID 930-8i', driveId: (i) => `Disk.${i}` },
  nicId: (i) => `NIC.${i + 1}`,
};

// Supermicro X13 (AMI-based Redfish 1.14): VirtualMedia Managers/1/VirtualMedia/CD1 (one slot),
// UsbCd boot target, Reset through ActionInfo, InsertMedia without Inserted/WriteProtected, and a
// Boot PATCH without the mode that answers 200 but reverts.
const supermicro: Personality = {
  ...generic,
  id: 'supermicro',
  vendor: 'Supermicro',
  redfishVersion: '1.14.0',
  rootOem: { Supermicro: { DumpService: { '@odata.id': '/redfish/v1/Oem/Supermicro/DumpService' } } },
  product: undefined,
  systemId: '1',
  managerId: '1',
  chassisId: '1',
  manufacturer: 'Supermicro',
  model: 'SYS-821GE-TNHR',
  managerModel: 'ASPEED',
  managerFirmware: '01.01.06',
  managerOem: { Supermicro: { '@odata.type': '#SmcManagerExtensions.v1_0_0.Manager' } },
  maxSessions: 4,
  mediaLocation: 'Managers',
  slots: [{ id: 'CD1', name: 'Virtual Removable Media', mediaTypes: ['CD', 'DVD'], style: 'standard', machineSlot: 0 }],
  bootTargets: ['None', 'Pxe', 'Floppy', 'Cd', 'Usb', 'Hdd', 'BiosSetup', 'UsbCd', 'UefiBootNext', 'UefiHttp'],
  bootModeAllowable: false,
  resetTypes: ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn'],
  resetAllowable: 'actioninfo',
  insertRejectsFlags: true,
  bootPatchRevertsWithoutMode: true,
  storage: { controllerId: 'HA-RAID', controllerName: 'HA-RAID', driveId: (i) => `Disk${i}` },
  nicId: (i) => `${i + 1}`,
};

// OpenBMC (bmcweb): Systems/system, Managers/bmc, VirtualMedia Slot_0 proxy mode, Slot_1/Slot_2
// legacy mode (https/smb only), ResetActionInfo, no Vendor in the root.
const openbmc: Personality = {
  ...generic,
  id: 'openbmc',
  product: undefined,
  redfishVersion: '1.17.0',
  systemId: 'system',
  managerId: 'bmc',
  chassisId: 'chassis',
  manufacturer: 'Ampere Computing',
  model: 'Mt.Jade',
  managerModel: 'OpenBmc',
  managerFirmware: '2.14.0-dev-1087-g5e2c0b1a',
  mediaLocation: 'Managers',
  slots: [
    { id: 'Slot_0', name: 'Virtual Removable Media', mediaTypes: ['CD', 'USBStick'], style: 'openbmc-proxy' },
    { id: 'Slot_1', name: 'Virtual Removable Media', mediaTypes: ['CD', 'USBStick'], style: 'standard', machineSlot: 0 },
    { id: 'Slot_2', name: 'Virtual Removable Media', mediaTypes: ['CD', 'USBStick'], style: 'standard', machineSlot: 1 },
  ],
  bootTargets: ['None', 'Pxe', 'Hdd', 'Cd', 'Diags', 'BiosSetup', 'Usb'],
  resetTypes: ['On', 'ForceOff', 'ForceOn', 'ForceRestart', 'GracefulRestart', 'GracefulShutdown', 'PowerCycle', 'Nmi'],
  resetAllowable: 'actioninfo',
  resetStatus: 200,
  mediaSchemes: ['https:', 'smb:'],
  storage: { controllerId: '1', controllerName: 'NVMe controller', driveId: (i) => `drive${i}` },
  nicId: (i) => `eth${i}`,
};

export const PERSONALITIES: Record<PersonalityId, Personality> = {
  generic,
  dell,
  'hpe-ilo5': hpeIlo5,
  'hpe-ilo6': hpeIlo6,
  lenovo,
  supermicro,
  openbmc,
};
