// ServiceRoot (`GET /redfish/v1/`, readable without credentials on every BMC we know).

import { get, isRecord, odataId, text, type JsonObject } from '../json.js';

export const SERVICE_ROOT_PATH = '/redfish/v1/';
/** Used when the root has no `Links.Sessions` (sushy does the same before trusting the link). */
export const DEFAULT_SESSIONS_PATH = '/redfish/v1/SessionService/Sessions';

export interface ServiceRoot {
  redfishVersion?: string;
  uuid?: string;
  /** `Vendor` (ServiceRoot v1_5_0+; Dell, Lenovo, Supermicro 1.14 set it; iLO 5 and OpenBMC do not). */
  vendor?: string;
  product?: string;
  /** Keys under `Oem` (`Dell`, `Hpe`, `Supermicro`...), the most reliable vendor hint on old firmware. */
  oemKeys: string[];
  systems?: string;
  managers?: string;
  chassis?: string;
  sessionService?: string;
  /** `Links.Sessions`: the session collection (iDRAC 3.x uses `/redfish/v1/Sessions`). */
  sessions?: string;
  taskService?: string;
  /** `Links.ManagerProvidingService` (OpenBMC: `/redfish/v1/Managers/bmc`). */
  managerProvidingService?: string;
  raw: JsonObject;
}

export function parseServiceRoot(body: unknown): ServiceRoot {
  const raw = isRecord(body) ? body : {};
  const root: ServiceRoot = { oemKeys: isRecord(raw['Oem']) ? Object.keys(raw['Oem']) : [], raw };
  const set = <K extends keyof ServiceRoot>(k: K, v: ServiceRoot[K] | undefined) => {
    if (v !== undefined) root[k] = v;
  };
  set('redfishVersion', text(raw['RedfishVersion']));
  set('uuid', text(raw['UUID']));
  set('vendor', text(raw['Vendor']));
  set('product', text(raw['Product']));
  set('systems', odataId(raw['Systems']));
  set('managers', odataId(raw['Managers']));
  set('chassis', odataId(raw['Chassis']));
  set('sessionService', odataId(raw['SessionService']));
  set('sessions', odataId(get(raw, 'Links', 'Sessions')));
  set('taskService', odataId(raw['Tasks']));
  set('managerProvidingService', odataId(get(raw, 'Links', 'ManagerProvidingService')));
  return root;
}
