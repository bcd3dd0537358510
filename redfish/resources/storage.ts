// Storage → Drives (and the older SimpleStorage) for the disk inventory. Drives carry
// `Identifiers` (NAA/EUI/NGUID durable names) from which stable `/dev/disk/by-id` style names are
// derived, so the installer can target a disk by something that survives re-enumeration.

import { asArray, get, isRecord, num, odataId, odataIds, text, type JsonObject } from '../json.js';
import { parseStatus, type ResourceStatus } from './common.js';

export interface DurableIdentifier {
  /** `NAA` | `EUI` | `NGUID` | `UUID` | `iQN` | `FC_WWN` | ... */
  format: string;
  name: string;
}

export interface Drive {
  path: string;
  id: string;
  name?: string;
  model?: string;
  manufacturer?: string;
  serialNumber?: string;
  revision?: string;
  capacityBytes?: number;
  /** `HDD` | `SSD` | `SMR`. */
  mediaType?: string;
  /** `SATA` | `SAS` | `NVMe` | ... */
  protocol?: string;
  blockSizeBytes?: number;
  identifiers: DurableIdentifier[];
  /**
   * Names this disk is likely to get under /dev/disk/by-id (udev's `wwn-0x<naa>`, `nvme-eui.<id>`,
   * `ata-<model>_<serial>`, `nvme-<model>_<serial>`). Hints only: disks behind a RAID controller are
   * seen by the host as virtual disks, so confirm on the host before wiping.
   */
  byIdHints: string[];
  status: ResourceStatus;
  raw: JsonObject;
}

export interface StorageSubsystem {
  path: string;
  id: string;
  name?: string;
  drives: string[];
  controllers: { name?: string; model?: string; manufacturer?: string; firmwareVersion?: string }[];
}

export function parseStorage(body: unknown, path: string): StorageSubsystem {
  const raw = isRecord(body) ? body : {};
  const s: StorageSubsystem = {
    path: odataId(raw) ?? path,
    id: text(raw['Id']) ?? path.split('/').filter(Boolean).pop() ?? path,
    drives: odataIds(raw['Drives']),
    controllers: [],
  };
  const name = text(raw['Name']);
  if (name !== undefined) s.name = name;
  for (const c of asArray(raw['StorageControllers'])) {
    const ctl: StorageSubsystem['controllers'][number] = {};
    const n = text(get(c, 'Name'));
    if (n !== undefined) ctl.name = n;
    const m = text(get(c, 'Model'));
    if (m !== undefined) ctl.model = m;
    const mf = text(get(c, 'Manufacturer'));
    if (mf !== undefined) ctl.manufacturer = mf;
    const fw = text(get(c, 'FirmwareVersion'));
    if (fw !== undefined) ctl.firmwareVersion = fw;
    s.controllers.push(ctl);
  }
  return s;
}

function udevSafe(s: string): string {
  // udev replaces whitespace with '_' and drops characters outside its safe set.
  return s.trim().replace(/\s+/g, '_').replace(/[^0-9A-Za-z#+\-.:=@_]/g, '');
}

function hexId(name: string): string | undefined {
  const h = name.replace(/^(0x|naa\.|eui\.)/i, '').replace(/[:\s-]/g, '').toLowerCase();
  return /^[0-9a-f]{8,32}$/.test(h) ? h : undefined;
}

/** Candidate /dev/disk/by-id names from a drive's identifiers, protocol, model and serial. */
export function byIdHints(d: Pick<Drive, 'identifiers' | 'protocol' | 'model' | 'serialNumber'>): string[] {
  const out: string[] = [];
  const nvme = d.protocol?.toUpperCase() === 'NVME';
  for (const idf of d.identifiers) {
    const fmt = idf.format.toUpperCase();
    const h = hexId(idf.name);
    if (h === undefined) continue;
    if (fmt === 'NAA' || fmt === 'FC_WWN') out.push(`wwn-0x${h}`);
    else if (fmt === 'EUI' || fmt === 'NGUID') out.push(nvme ? `nvme-eui.${h}` : `wwn-0x${h}`);
  }
  if (d.model !== undefined && d.serialNumber !== undefined) {
    const proto = d.protocol?.toUpperCase();
    const prefix = proto === 'SATA' ? 'ata' : proto === 'NVME' ? 'nvme' : undefined;
    if (prefix !== undefined) out.push(`${prefix}-${udevSafe(d.model)}_${udevSafe(d.serialNumber)}`);
  }
  return [...new Set(out)];
}

export function parseDrive(body: unknown, path: string): Drive {
  const raw = isRecord(body) ? body : {};
  const d: Drive = {
    path: odataId(raw) ?? path,
    id: text(raw['Id']) ?? path.split('/').filter(Boolean).pop() ?? path,
    identifiers: [],
    byIdHints: [],
    status: parseStatus(raw['Status']),
    raw,
  };
  const opt = <K extends 'name' | 'model' | 'manufacturer' | 'serialNumber' | 'revision' | 'mediaType' | 'protocol'>(k: K, prop: string) => {
    const v = text(raw[prop]);
    if (v !== undefined) d[k] = v;
  };
  opt('name', 'Name');
  opt('model', 'Model');
  opt('manufacturer', 'Manufacturer');
  opt('serialNumber', 'SerialNumber');
  opt('revision', 'Revision');
  opt('mediaType', 'MediaType');
  opt('protocol', 'Protocol');
  const cap = num(raw['CapacityBytes']);
  if (cap !== undefined) d.capacityBytes = cap;
  const bs = num(raw['BlockSizeBytes']);
  if (bs !== undefined) d.blockSizeBytes = bs;
  for (const i of asArray(raw['Identifiers'])) {
    const format = text(get(i, 'DurableNameFormat'));
    const name = text(get(i, 'DurableName'));
    if (format !== undefined && name !== undefined) d.identifiers.push({ format, name });
  }
  d.byIdHints = byIdHints(d);
  return d;
}

/** SimpleStorage `Devices[]` (no serials, no identifiers): the fallback when a BMC has no Storage. */
export function parseSimpleStorageDevices(body: unknown, path: string): Drive[] {
  const raw = isRecord(body) ? body : {};
  const out: Drive[] = [];
  asArray(raw['Devices']).forEach((dev, i) => {
    const status = parseStatus(get(dev, 'Status'));
    if (status.state === 'Absent') return;
    const d: Drive = { path: `${path}#/Devices/${i}`, id: text(get(dev, 'Name')) ?? String(i), identifiers: [], byIdHints: [], status, raw: isRecord(dev) ? dev : {} };
    const name = text(get(dev, 'Name'));
    if (name !== undefined) d.name = name;
    const model = text(get(dev, 'Model'));
    if (model !== undefined) d.model = model;
    const mf = text(get(dev, 'Manufacturer'));
    if (mf !== undefined) d.manufacturer = mf;
    const cap = num(get(dev, 'CapacityBytes'));
    if (cap !== undefined) d.capacityBytes = cap;
    out.push(d);
  });
  return out;
}
