// ComputerSystem: identity, power, Boot override, reset action, and the links the operations follow.

import { allowable, get, isRecord, num, odataId, odataIds, strings, text, type JsonObject } from '../json.js';
import { parseStatus, type ResourceStatus } from './common.js';

export type PowerState = 'On' | 'Off' | 'PoweringOn' | 'PoweringOff' | 'Paused' | 'Unknown';

export const RESET_TYPES = [
  'On',
  'ForceOff',
  'GracefulShutdown',
  'GracefulRestart',
  'ForceRestart',
  'Nmi',
  'ForceOn',
  'PushPowerButton',
  'PowerCycle',
  'Suspend',
  'Pause',
  'Resume',
  'FullPowerCycle',
] as const;
export type ResetType = (typeof RESET_TYPES)[number];

export interface BootSettings {
  /** `Disabled` | `Once` | `Continuous`, as the BMC reports it. */
  overrideEnabled?: string;
  overrideTarget?: string;
  /** `UEFI` | `Legacy`; undefined when the BMC has no such property (some Supermicro X10 boards). */
  overrideMode?: string;
  hasOverrideMode: boolean;
  allowedTargets?: string[];
  allowedModes?: string[];
  allowedEnabled?: string[];
  httpBootUri?: string;
  hasHttpBootUri: boolean;
}

export interface ResetAction {
  target: string;
  /** From `ResetType@Redfish.AllowableValues`. */
  allowed?: string[];
  /** `@Redfish.ActionInfo` path, read when no inline list exists (Supermicro, OpenBMC). */
  actionInfo?: string;
}

export interface ComputerSystem {
  path: string;
  id: string;
  name?: string;
  uuid?: string;
  serialNumber?: string;
  model?: string;
  manufacturer?: string;
  sku?: string;
  partNumber?: string;
  biosVersion?: string;
  powerState: PowerState;
  status: ResourceStatus;
  boot: BootSettings;
  processor: { count?: number; model?: string; logicalProcessorCount?: number; coreCount?: number };
  memoryGiB?: number;
  reset?: ResetAction;
  links: {
    managedBy: string[];
    chassis: string[];
    ethernetInterfaces?: string;
    storage?: string;
    simpleStorage?: string;
    secureBoot?: string;
    virtualMedia?: string;
    bios?: string;
  };
  /** `@Redfish.Settings.SettingsObject`: where pending changes go (AMI `SD`, Lenovo SE450 `Pending`, iDRAC10 `Settings`). */
  settingsObject?: string;
  settingsApplyTimes?: string[];
  etag?: string;
  raw: JsonObject;
}

function powerState(v: unknown): PowerState {
  const s = text(v);
  return s === 'On' || s === 'Off' || s === 'PoweringOn' || s === 'PoweringOff' || s === 'Paused' ? s : 'Unknown';
}

export function parseBoot(v: unknown): BootSettings {
  const b = isRecord(v) ? v : {};
  const out: BootSettings = { hasOverrideMode: 'BootSourceOverrideMode' in b, hasHttpBootUri: 'HttpBootUri' in b };
  const enabled = text(b['BootSourceOverrideEnabled']);
  if (enabled !== undefined) out.overrideEnabled = enabled;
  const target = text(b['BootSourceOverrideTarget']);
  if (target !== undefined) out.overrideTarget = target;
  const mode = text(b['BootSourceOverrideMode']);
  if (mode !== undefined) out.overrideMode = mode;
  const targets = allowable(b, 'BootSourceOverrideTarget');
  if (targets !== undefined) out.allowedTargets = targets;
  const modes = allowable(b, 'BootSourceOverrideMode');
  if (modes !== undefined) out.allowedModes = modes;
  const en = allowable(b, 'BootSourceOverrideEnabled');
  if (en !== undefined) out.allowedEnabled = en;
  const uri = text(b['HttpBootUri']);
  if (uri !== undefined) out.httpBootUri = uri;
  return out;
}

function parseReset(actions: unknown): ResetAction | undefined {
  const a = get(actions, '#ComputerSystem.Reset');
  const target = text(get(a, 'target'));
  if (target === undefined) return undefined;
  const out: ResetAction = { target };
  const allowed = allowable(a, 'ResetType');
  if (allowed !== undefined) out.allowed = allowed;
  const info = text(get(a, '@Redfish.ActionInfo'));
  if (info !== undefined) out.actionInfo = info;
  return out;
}

export function parseComputerSystem(body: unknown, path: string, etag?: string): ComputerSystem {
  const raw = isRecord(body) ? body : {};
  const id = text(raw['Id']) ?? path.split('/').filter(Boolean).pop() ?? path;
  const sys: ComputerSystem = {
    path: odataId(raw) ?? path,
    id,
    powerState: powerState(raw['PowerState']),
    status: parseStatus(raw['Status']),
    boot: parseBoot(raw['Boot']),
    processor: {},
    links: {
      managedBy: odataIds(get(raw, 'Links', 'ManagedBy')),
      chassis: odataIds(get(raw, 'Links', 'Chassis')),
    },
    raw,
  };
  const opt = <K extends 'name' | 'uuid' | 'serialNumber' | 'model' | 'manufacturer' | 'sku' | 'partNumber' | 'biosVersion'>(k: K, prop: string) => {
    const v = text(raw[prop]);
    if (v !== undefined) sys[k] = v;
  };
  opt('name', 'Name');
  opt('uuid', 'UUID');
  opt('serialNumber', 'SerialNumber');
  opt('model', 'Model');
  opt('manufacturer', 'Manufacturer');
  opt('sku', 'SKU');
  opt('partNumber', 'PartNumber');
  opt('biosVersion', 'BiosVersion');

  const ps = raw['ProcessorSummary'];
  const count = num(get(ps, 'Count'));
  if (count !== undefined) sys.processor.count = count;
  const model = text(get(ps, 'Model'));
  if (model !== undefined) sys.processor.model = model;
  const lpc = num(get(ps, 'LogicalProcessorCount'));
  if (lpc !== undefined) sys.processor.logicalProcessorCount = lpc;
  const cores = num(get(ps, 'CoreCount'));
  if (cores !== undefined) sys.processor.coreCount = cores;
  const mem = num(get(raw, 'MemorySummary', 'TotalSystemMemoryGiB'));
  if (mem !== undefined) sys.memoryGiB = mem;

  const reset = parseReset(raw['Actions']);
  if (reset !== undefined) sys.reset = reset;

  const link = (k: keyof Omit<ComputerSystem['links'], 'managedBy' | 'chassis'>, prop: string) => {
    const v = odataId(raw[prop]);
    if (v !== undefined) sys.links[k] = v;
  };
  link('ethernetInterfaces', 'EthernetInterfaces');
  link('storage', 'Storage');
  link('simpleStorage', 'SimpleStorage');
  link('secureBoot', 'SecureBoot');
  link('virtualMedia', 'VirtualMedia');
  link('bios', 'Bios');

  const settings = raw['@Redfish.Settings'];
  const so = odataId(get(settings, 'SettingsObject'));
  if (so !== undefined) sys.settingsObject = so;
  const times = strings(get(settings, 'SupportedApplyTimes'));
  if (times.length > 0) sys.settingsApplyTimes = times;
  if (etag !== undefined) sys.etag = etag;
  return sys;
}

/** Allowed ResetType values from an ActionInfo resource's `Parameters[Name=ResetType].AllowableValues`. */
export function parseResetActionInfo(body: unknown): string[] | undefined {
  const params = get(body, 'Parameters');
  if (!Array.isArray(params)) return undefined;
  for (const p of params) {
    if (text(get(p, 'Name')) === 'ResetType') {
      const v = get(p, 'AllowableValues');
      return Array.isArray(v) ? strings(v) : undefined;
    }
  }
  return undefined;
}
