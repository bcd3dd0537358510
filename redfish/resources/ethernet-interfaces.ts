// EthernetInterface: the host NICs' MAC addresses (what DHCP will see).

import { bool, isRecord, num, odataId, text, type JsonObject } from '../json.js';
import { parseStatus, type ResourceStatus } from './common.js';

export interface EthernetInterface {
  path: string;
  id: string;
  name?: string;
  /** Current MAC, normalised to lower-case `aa:bb:cc:dd:ee:ff`. */
  macAddress?: string;
  /** Burnt-in MAC when the BMC reports one (it can differ from MACAddress after an override). */
  permanentMacAddress?: string;
  speedMbps?: number;
  linkStatus?: string;
  interfaceEnabled?: boolean;
  status: ResourceStatus;
  raw: JsonObject;
}

/** Normalises `7C:D3:0A:44:55:66`, `7c-d3-0a-44-55-66` or `7cd30a445566` to `7c:d3:0a:44:55:66`. */
export function normalizeMac(v: unknown): string | undefined {
  const s = text(v);
  if (s === undefined) return undefined;
  const hex = s.replace(/[:.-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(hex) || /^0{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

export function parseEthernetInterface(body: unknown, path: string): EthernetInterface {
  const raw = isRecord(body) ? body : {};
  const nic: EthernetInterface = {
    path: odataId(raw) ?? path,
    id: text(raw['Id']) ?? path.split('/').filter(Boolean).pop() ?? path,
    status: parseStatus(raw['Status']),
    raw,
  };
  const name = text(raw['Name']);
  if (name !== undefined) nic.name = name;
  const mac = normalizeMac(raw['MACAddress']);
  if (mac !== undefined) nic.macAddress = mac;
  const pmac = normalizeMac(raw['PermanentMACAddress']);
  if (pmac !== undefined) nic.permanentMacAddress = pmac;
  const speed = num(raw['SpeedMbps']);
  if (speed !== undefined) nic.speedMbps = speed;
  const link = text(raw['LinkStatus']);
  if (link !== undefined) nic.linkStatus = link;
  const en = bool(raw['InterfaceEnabled']);
  if (en !== undefined) nic.interfaceEnabled = en;
  return nic;
}
