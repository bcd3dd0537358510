// Renders the Redfish resource tree of one virtual BMC from its personality and the live state.
// Every request renders afresh, so ETags (a hash of the rendered body) change exactly when the
// resource does. Paths are keyed without a trailing slash; iLO 5 personalities write their
// @odata.id links with one, as the real iLO does.

import { createHash } from 'node:crypto';
import type { VirtualMachine } from './machine.js';
import type { Personality, SlotDef } from './personalities.js';

export type Json = Record<string, unknown>;

export interface Session {
  id: string;
  token: string;
  userName: string;
  createdAt: number;
  lastUsed: number;
  /** Requests authenticated with it (an injected expiry never hits a session on its first use). */
  uses: number;
}

export interface Task {
  id: string;
  state: 'Running' | 'Completed' | 'Exception';
  status: 'OK' | 'Critical';
  percent: number;
  messages: { MessageId: string; Message: string; Severity: string }[];
  startTime: string;
  endTime?: string;
  /** Status code the task monitor answers once the task is done. */
  resultStatus?: number;
}

export interface RenderState {
  p: Personality;
  m: VirtualMachine;
  serviceUuid: string;
  sessions: Session[];
  tasks: Task[];
  /** HPE only: BootOnNextServerReset per slot id. */
  hpeBootOnNextReset: Set<string>;
}

export function normalizePath(path: string): string {
  const noQuery = path.split('?')[0] ?? path;
  const trimmed = noQuery.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

export function etagFor(p: Personality, body: Json): string {
  const { ['@odata.etag']: _e, ...rest } = body;
  const h = createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 12).toUpperCase();
  if (p.etag === 'weak') return `W/"${h}"`;
  if (p.etag === 'bare') return h;
  return `"${h}"`;
}

export interface Paths {
  root: string;
  systems: string;
  system: string;
  managers: string;
  manager: string;
  chassisCol: string;
  chassis: string;
  vmedia: string;
  sessionService: string;
  sessions: string;
  taskService: string;
  tasks: string;
  taskMonitors: string;
  reset: string;
  resetInfo: string;
}

export function pathsOf(p: Personality): Paths {
  const system = `/redfish/v1/Systems/${p.systemId}`;
  const manager = `/redfish/v1/Managers/${p.managerId}`;
  return {
    root: '/redfish/v1',
    systems: '/redfish/v1/Systems',
    system,
    managers: '/redfish/v1/Managers',
    manager,
    chassisCol: '/redfish/v1/Chassis',
    chassis: `/redfish/v1/Chassis/${p.chassisId}`,
    vmedia: `${p.mediaLocation === 'Systems' ? system : manager}/VirtualMedia`,
    sessionService: '/redfish/v1/SessionService',
    sessions: normalizePath(p.sessionsPath),
    taskService: '/redfish/v1/TaskService',
    tasks: '/redfish/v1/TaskService/Tasks',
    taskMonitors: '/redfish/v1/TaskService/TaskMonitors',
    reset: `${system}/Actions/ComputerSystem.Reset`,
    resetInfo: `${system}/ResetActionInfo`,
  };
}

export function slotPath(p: Personality, slot: SlotDef): string {
  return `${pathsOf(p).vmedia}/${slot.id}`;
}

export function slotActionPath(p: Personality, slot: SlotDef, action: 'InsertMedia' | 'EjectMedia' | 'HpeInsert' | 'HpeEject'): string {
  const base = slotPath(p, slot);
  switch (action) {
    case 'InsertMedia':
      return `${base}/Actions/VirtualMedia.InsertMedia`;
    case 'EjectMedia':
      return `${base}/Actions/VirtualMedia.EjectMedia`;
    case 'HpeInsert':
      return `${base}/Actions/Oem/Hpe/HpeiLOVirtualMedia.InsertVirtualMedia`;
    case 'HpeEject':
      return `${base}/Actions/Oem/Hpe/HpeiLOVirtualMedia.EjectVirtualMedia`;
  }
}

/** Renders every resource; keys are normalized paths. */
export function renderTree(s: RenderState): Map<string, Json> {
  const { p, m } = s;
  const P = pathsOf(p);
  const L = (path: string): string => (p.trailingSlash ? `${path}/` : path);
  const ref = (path: string): Json => ({ '@odata.id': L(path) });
  const out = new Map<string, Json>();
  const put = (path: string, type: string, body: Json): void => {
    out.set(path, { '@odata.id': L(path), '@odata.type': type, ...body });
  };
  const collection = (path: string, type: string, name: string, members: string[]): void => {
    put(path, type, { Name: name, Members: members.map(ref), 'Members@odata.count': members.length });
  };

  // Service root
  const root: Json = {
    Id: 'RootService',
    Name: 'Root Service',
    RedfishVersion: p.redfishVersion,
    UUID: s.serviceUuid,
    Systems: ref(P.systems),
    Managers: ref(P.managers),
    Chassis: ref(P.chassisCol),
    SessionService: ref(P.sessionService),
    Tasks: ref(P.taskService),
    Links: { Sessions: ref(P.sessions), ...(p.id === 'openbmc' ? { ManagerProvidingService: ref(P.manager) } : {}) },
  };
  if (p.vendor !== undefined) root['Vendor'] = p.vendor;
  if (p.product !== undefined) root['Product'] = p.product;
  if (p.rootOem !== undefined) root['Oem'] = p.rootOem;
  put(P.root, '#ServiceRoot.v1_15_0.ServiceRoot', root);

  // System
  collection(P.systems, '#ComputerSystemCollection.ComputerSystemCollection', 'Computer System Collection', [P.system]);
  const boot: Json = {
    BootSourceOverrideEnabled: m.boot.enabled,
    BootSourceOverrideTarget: m.boot.target,
    'BootSourceOverrideTarget@Redfish.AllowableValues': p.bootTargets,
    BootSourceOverrideMode: m.boot.mode,
  };
  if (p.bootModeAllowable) boot['BootSourceOverrideMode@Redfish.AllowableValues'] = ['Legacy', 'UEFI'];
  if (p.bootTargets.includes('UefiHttp') && p.id !== 'hpe-ilo5') boot['HttpBootUri'] = m.boot.httpBootUri ?? null;
  const resetAction: Json = { target: L(P.reset) };
  if (p.resetAllowable === 'inline') resetAction['ResetType@Redfish.AllowableValues'] = p.resetTypes;
  else resetAction['@Redfish.ActionInfo'] = L(P.resetInfo);
  const sys: Json = {
    Id: p.systemId,
    Name: 'System',
    SystemType: 'Virtual',
    Manufacturer: m.spec.manufacturer,
    Model: m.spec.model,
    SerialNumber: m.spec.serialNumber,
    UUID: m.spec.uuid,
    BiosVersion: m.boot.mode === 'UEFI' ? 'OVMF edk2-stable202211' : 'SeaBIOS 1.16.2',
    PowerState: m.power,
    Status: { State: 'Enabled', Health: 'OK' },
    Boot: boot,
    ProcessorSummary: { Count: m.spec.cpus, LogicalProcessorCount: m.spec.cpus, Model: 'QEMU TCG CPU', Status: { State: 'Enabled', Health: 'OK' } },
    MemorySummary: { TotalSystemMemoryGiB: Math.round((m.spec.memoryMb / 1024) * 100) / 100, Status: { State: 'Enabled', Health: 'OK' } },
    EthernetInterfaces: ref(`${P.system}/EthernetInterfaces`),
    Storage: ref(`${P.system}/Storage`),
    SecureBoot: ref(`${P.system}/SecureBoot`),
    Links: { Chassis: [ref(P.chassis)], ManagedBy: [ref(P.manager)] },
    Actions: { '#ComputerSystem.Reset': resetAction },
  };
  if (p.mediaLocation === 'Systems') sys['VirtualMedia'] = ref(P.vmedia);
  if (p.id === 'hpe-ilo5' || p.id === 'hpe-ilo6') sys['Oem'] = { Hpe: { '@odata.type': '#HpeComputerSystemExt.v2_1_0.HpeComputerSystemExt', PostState: m.power === 'On' ? 'InPostDiscoveryComplete' : 'PowerOff' } };
  put(P.system, p.id === 'hpe-ilo5' ? '#ComputerSystem.v1_2_0.ComputerSystem' : '#ComputerSystem.v1_20_0.ComputerSystem', sys);
  if (p.resetAllowable === 'actioninfo') {
    put(P.resetInfo, '#ActionInfo.v1_4_2.ActionInfo', {
      Id: 'ResetActionInfo',
      Name: 'Reset Action Info',
      Parameters: [{ Name: 'ResetType', Required: true, DataType: 'String', AllowableValues: p.resetTypes }],
    });
  }

  const nicPaths = m.spec.nics.map((n, i) => `${P.system}/EthernetInterfaces/${p.nicId(i, n.mac)}`);
  collection(`${P.system}/EthernetInterfaces`, '#EthernetInterfaceCollection.EthernetInterfaceCollection', 'Ethernet Interface Collection', nicPaths);
  m.spec.nics.forEach((n, i) => {
    put(nicPaths[i]!, '#EthernetInterface.v1_6_0.EthernetInterface', {
      Id: p.nicId(i, n.mac),
      Name: `Ethernet interface ${i + 1}`,
      MACAddress: n.mac.toLowerCase(),
      PermanentMACAddress: n.mac.toLowerCase(),
      SpeedMbps: 1000,
      LinkStatus: m.power === 'On' ? 'LinkUp' : 'LinkDown',
      Status: { State: 'Enabled', Health: 'OK' },
    });
  });

  const storagePath = `${P.system}/Storage/${p.storage.controllerId}`;
  collection(`${P.system}/Storage`, '#StorageCollection.StorageCollection', 'Storage Collection', m.spec.disks.length > 0 ? [storagePath] : []);
  const drivePaths = m.spec.disks.map((_, i) => `${storagePath}/Drives/${p.storage.driveId(i)}`);
  if (m.spec.disks.length > 0) {
    put(storagePath, '#Storage.v1_9_0.Storage', {
      Id: p.storage.controllerId,
      Name: p.storage.controllerName,
      StorageControllers: [{ MemberId: '0', Name: p.storage.controllerName, Model: 'virtio-blk-pci', Status: { State: 'Enabled', Health: 'OK' } }],
      Drives: drivePaths.map(ref),
      'Drives@odata.count': drivePaths.length,
      Status: { State: 'Enabled', Health: 'OK' },
    });
  }
  m.spec.disks.forEach((d, i) => {
    put(drivePaths[i]!, '#Drive.v1_9_0.Drive', {
      Id: p.storage.driveId(i),
      Name: `Disk ${i}`,
      Model: 'QEMU virtio disk',
      Manufacturer: 'QEMU',
      SerialNumber: d.serial,
      CapacityBytes: m.diskSize(i),
      BlockSizeBytes: 512,
      MediaType: 'SSD',
      Protocol: 'PCIe',
      Status: { State: 'Enabled', Health: 'OK' },
    });
  });

  put(`${P.system}/SecureBoot`, '#SecureBoot.v1_1_0.SecureBoot', {
    Id: 'SecureBoot',
    Name: 'UEFI Secure Boot',
    SecureBootEnable: false,
    SecureBootCurrentBoot: 'Disabled',
    SecureBootMode: m.boot.mode === 'UEFI' ? 'SetupMode' : 'DeployedMode',
  });

  // Manager
  collection(P.managers, '#ManagerCollection.ManagerCollection', 'Manager Collection', [P.manager]);
  const mgr: Json = {
    Id: p.managerId,
    Name: 'Manager',
    ManagerType: 'BMC',
    FirmwareVersion: p.managerFirmware,
    Status: { State: 'Enabled', Health: 'OK' },
    Links: { ManagerForServers: [ref(P.system)], ManagerForChassis: [ref(P.chassis)] },
  };
  if (p.managerModel !== undefined) mgr['Model'] = p.managerModel;
  if (p.id !== 'hpe-ilo6') mgr['PowerState'] = 'On'; // iLO 6 1.70 does not publish it (metal-operator#594)
  if (p.managerOem !== undefined) mgr['Oem'] = p.managerOem;
  if (p.mediaLocation === 'Managers') mgr['VirtualMedia'] = ref(P.vmedia);
  put(P.manager, p.id === 'hpe-ilo5' ? '#Manager.v1_5_1.Manager' : '#Manager.v1_14_0.Manager', mgr);

  // Virtual media
  const slotPaths = p.slots.map((sl) => slotPath(p, sl));
  collection(P.vmedia, '#VirtualMediaCollection.VirtualMediaCollection', 'Virtual Media Services', slotPaths);
  p.slots.forEach((sl, i) => put(slotPaths[i]!, p.id === 'hpe-ilo5' ? '#VirtualMedia.v1_0_0.VirtualMedia' : '#VirtualMedia.v1_6_0.VirtualMedia', renderSlot(s, sl, L)));

  // Chassis
  collection(P.chassisCol, '#ChassisCollection.ChassisCollection', 'Chassis Collection', [P.chassis]);
  put(P.chassis, '#Chassis.v1_14_0.Chassis', {
    Id: p.chassisId,
    Name: 'Chassis',
    ChassisType: 'RackMount',
    Manufacturer: m.spec.manufacturer,
    Model: m.spec.model,
    SerialNumber: m.spec.serialNumber,
    PowerState: m.power,
    Status: { State: 'Enabled', Health: 'OK' },
    Links: { ComputerSystems: [ref(P.system)], ManagedBy: [ref(P.manager)] },
  });

  // Sessions
  put(P.sessionService, '#SessionService.v1_1_8.SessionService', {
    Id: 'SessionService',
    Name: 'Session Service',
    ServiceEnabled: true,
    SessionTimeout: 1800,
    Sessions: ref(P.sessions),
  });
  collection(P.sessions, '#SessionCollection.SessionCollection', 'Session Collection', s.sessions.map((x) => `${P.sessions}/${x.id}`));
  for (const x of s.sessions) {
    put(`${P.sessions}/${x.id}`, '#Session.v1_5_0.Session', { Id: x.id, Name: 'User Session', UserName: x.userName, SessionType: 'Redfish', CreatedTime: new Date(x.createdAt).toISOString() });
  }

  // Tasks
  put(P.taskService, '#TaskService.v1_2_0.TaskService', { Id: 'TaskService', Name: 'Task Service', ServiceEnabled: true, Tasks: ref(P.tasks) });
  collection(P.tasks, '#TaskCollection.TaskCollection', 'Task Collection', s.tasks.map((t) => `${P.tasks}/${t.id}`));
  for (const t of s.tasks) out.set(`${P.tasks}/${t.id}`, renderTask(p, t));
  return out;
}

export function renderTask(p: Personality, t: Task): Json {
  const P = pathsOf(p);
  return {
    '@odata.id': `${P.tasks}/${t.id}`,
    '@odata.type': '#Task.v1_4_3.Task',
    Id: t.id,
    Name: `Task ${t.id}`,
    TaskState: t.state,
    TaskStatus: t.status,
    PercentComplete: t.percent,
    StartTime: t.startTime,
    ...(t.endTime === undefined ? {} : { EndTime: t.endTime }),
    TaskMonitor: `${P.taskMonitors}/${t.id}`,
    Messages: t.messages,
  };
}

function renderSlot(s: RenderState, sl: SlotDef, L: (p: string) => string): Json {
  const { p, m } = s;
  const media = sl.machineSlot === undefined ? undefined : m.media[sl.machineSlot];
  const inserted = media?.inserted ?? false;
  const image = inserted ? media?.image : undefined;
  const empty = p.id.startsWith('hpe') ? '' : null;
  const body: Json = {
    Id: sl.id,
    Name: sl.name,
    MediaTypes: sl.mediaTypes,
    Image: image ?? empty,
    ImageName: image === undefined ? empty : decodeURIComponent(new URL(image).pathname.split('/').pop() ?? ''),
    Inserted: inserted,
    WriteProtected: media?.writeProtected ?? true,
    ConnectedVia: inserted ? 'URI' : 'NotConnected',
  };
  if (media?.transferProtocolType !== undefined && inserted) body['TransferProtocolType'] = media.transferProtocolType;
  const actions: Json = {};
  if (sl.style === 'standard' || sl.style === 'hpe-both') {
    const insert: Json = { target: L(slotActionPath(p, sl, 'InsertMedia')) };
    if (p.insertProtocols !== undefined) insert['TransferProtocolType@Redfish.AllowableValues'] = p.insertProtocols;
    actions['#VirtualMedia.InsertMedia'] = insert;
    actions['#VirtualMedia.EjectMedia'] = { target: L(slotActionPath(p, sl, 'EjectMedia')) };
  }
  if (sl.style === 'openbmc-proxy') {
    actions['#VirtualMedia.EjectMedia'] = { target: L(slotActionPath(p, sl, 'EjectMedia')) };
    body['TransferProtocolType'] = 'OEM';
    body['Oem'] = { OpenBMC: { '@odata.type': '#OpenBMCVirtualMedia.v1_0_0.VirtualMedia', WebSocketEndpoint: `/nbd/${sl.id.replace(/\D/g, '')}` } };
  }
  if (Object.keys(actions).length > 0) body['Actions'] = actions;
  if (sl.style === 'hpe-oem' || sl.style === 'hpe-both') {
    body['Oem'] = {
      Hpe: {
        '@odata.type': '#HpeiLOVirtualMedia.v2_0_0.HpeiLOVirtualMedia',
        Actions: {
          '#HpeiLOVirtualMedia.EjectVirtualMedia': { target: L(slotActionPath(p, sl, 'HpeEject')) },
          '#HpeiLOVirtualMedia.InsertVirtualMedia': { target: L(slotActionPath(p, sl, 'HpeInsert')) },
        },
        BootOnNextServerReset: s.hpeBootOnNextReset.has(sl.id),
      },
    };
  }
  return body;
}
