// Manager: the BMC itself. Its Model and FirmwareVersion drive vendor generation checks, and on older
// firmware it holds the VirtualMedia collection.

import { get, isRecord, odataId, odataIds, text, type JsonObject } from '../json.js';
import { parseStatus, type ResourceStatus } from './common.js';

export interface Manager {
  path: string;
  id: string;
  name?: string;
  model?: string;
  firmwareVersion?: string;
  managerType?: string;
  uuid?: string;
  /** Not published by iLO 6 1.70 (metal-operator#594); never required. */
  powerState?: string;
  status: ResourceStatus;
  virtualMedia?: string;
  managerForServers: string[];
  oemKeys: string[];
  raw: JsonObject;
}

export function parseManager(body: unknown, path: string): Manager {
  const raw = isRecord(body) ? body : {};
  const m: Manager = {
    path: odataId(raw) ?? path,
    id: text(raw['Id']) ?? path.split('/').filter(Boolean).pop() ?? path,
    status: parseStatus(raw['Status']),
    managerForServers: odataIds(get(raw, 'Links', 'ManagerForServers')),
    oemKeys: isRecord(raw['Oem']) ? Object.keys(raw['Oem']) : [],
    raw,
  };
  const opt = <K extends 'name' | 'model' | 'firmwareVersion' | 'managerType' | 'uuid' | 'powerState'>(k: K, prop: string) => {
    const v = text(raw[prop]);
    if (v !== undefined) m[k] = v;
  };
  opt('name', 'Name');
  opt('model', 'Model');
  opt('firmwareVersion', 'FirmwareVersion');
  opt('managerType', 'ManagerType');
  opt('uuid', 'UUID');
  opt('powerState', 'PowerState');
  const vm = odataId(raw['VirtualMedia']);
  if (vm !== undefined) m.virtualMedia = vm;
  return m;
}
