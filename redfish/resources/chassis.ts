// Chassis: the enclosure's own serial/part numbers (on Dell the chassis carries the service tag as SKU).

import { isRecord, odataId, text, type JsonObject } from '../json.js';
import { parseStatus, type ResourceStatus } from './common.js';

export interface Chassis {
  path: string;
  id: string;
  chassisType?: string;
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  partNumber?: string;
  sku?: string;
  assetTag?: string;
  status: ResourceStatus;
  raw: JsonObject;
}

export function parseChassis(body: unknown, path: string): Chassis {
  const raw = isRecord(body) ? body : {};
  const c: Chassis = {
    path: odataId(raw) ?? path,
    id: text(raw['Id']) ?? path.split('/').filter(Boolean).pop() ?? path,
    status: parseStatus(raw['Status']),
    raw,
  };
  const opt = <K extends 'chassisType' | 'manufacturer' | 'model' | 'serialNumber' | 'partNumber' | 'sku' | 'assetTag'>(k: K, prop: string) => {
    const v = text(raw[prop]);
    if (v !== undefined) c[k] = v;
  };
  opt('chassisType', 'ChassisType');
  opt('manufacturer', 'Manufacturer');
  opt('model', 'Model');
  opt('serialNumber', 'SerialNumber');
  opt('partNumber', 'PartNumber');
  opt('sku', 'SKU');
  opt('assetTag', 'AssetTag');
  return c;
}
