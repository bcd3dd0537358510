// Discovery: service root → Systems → the one System to act on → its Manager → vendor strategy.
// The System choice is strict: the configured systemId or the only member. Several members and no
// id is an error, and an id that matches nothing never falls back to "all systems" (bmclib#421:
// a typo in systemName powered off half a data centre on a multi-system endpoint).

import type { RedfishClient } from '../client.js';
import { RedfishError } from '../errors.js';
import { collectionMembers, lastSegment, samePath } from '../json.js';
import { parseManager, type Manager } from '../resources/managers.js';
import type { ServiceRoot } from '../resources/service-root.js';
import { parseComputerSystem, type ComputerSystem } from '../resources/systems.js';
import { detectVendor, strategies } from '../oem/detect.js';
import type { VendorContext, VendorStrategy } from '../oem/types.js';

export interface Discovery extends VendorContext {
  strategy: VendorStrategy;
  /** Every System member path the service root lists. */
  systemPaths: string[];
}

export async function listMembers(client: RedfishClient, path: string): Promise<string[]> {
  const res = await client.get(path);
  const members = collectionMembers(res.body);
  if (members === undefined) throw new RedfishError('RB_REDFISH_BAD_RESPONSE', `${path} is not a Redfish collection`, { path, status: res.status });
  return members;
}

async function chooseSystem(client: RedfishClient, paths: string[], systemId: string | undefined): Promise<string> {
  const ids = paths.map(lastSegment);
  if (systemId === undefined || systemId === '') {
    if (paths.length === 1) return paths[0]!;
    if (paths.length === 0) throw new RedfishError('RB_REDFISH_SYSTEM_NOT_FOUND', 'the BMC lists no systems');
    throw new RedfishError('RB_REDFISH_SYSTEM_AMBIGUOUS', `the BMC lists ${paths.length} systems (${ids.join(', ')}); set systemId to choose one`);
  }
  const byPath = paths.find((p, i) => ids[i] === systemId || samePath(p, systemId));
  if (byPath !== undefined) return byPath;
  // Ids usually equal the last path segment; otherwise compare the members' Id and UUID (bounded).
  for (const p of paths.slice(0, 32)) {
    const sys = parseComputerSystem((await client.getResource(p)).body, p);
    if (sys.id === systemId || (sys.uuid !== undefined && sys.uuid.toLowerCase() === systemId.toLowerCase())) return p;
  }
  throw new RedfishError('RB_REDFISH_SYSTEM_NOT_FOUND', `no system "${systemId}" on this BMC (it lists ${ids.join(', ') || 'none'})`);
}

async function findManager(client: RedfishClient, root: ServiceRoot, system: ComputerSystem): Promise<Manager | undefined> {
  let path = system.links.managedBy[0];
  if (path === undefined && root.managers !== undefined) {
    // Huawei 1288H omits ManagedBy (sushy release note retry-on-missing-managedby): take the only
    // Manager, or the one that lists this System.
    const managers = await listMembers(client, root.managers);
    if (managers.length === 1) path = managers[0];
    else {
      for (const m of managers.slice(0, 8)) {
        const mgr = parseManager((await client.getResource(m)).body, m);
        if (mgr.managerForServers.some((s) => samePath(s, system.path))) return mgr;
      }
    }
  }
  if (path === undefined) return undefined;
  try {
    return parseManager((await client.getResource(path)).body, path);
  } catch (err) {
    client.logger.warn(`redfish: cannot read manager ${path}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

export async function discover(client: RedfishClient, systemId = client.systemId): Promise<Discovery> {
  const root = await client.serviceRoot();
  const systemsPath = root.systems ?? '/redfish/v1/Systems';
  const systemPaths = await listMembers(client, systemsPath);
  const chosen = await chooseSystem(client, systemPaths, systemId);
  const res = await client.getResource(chosen);
  const system = parseComputerSystem(res.body, chosen, res.etag);
  const manager = await findManager(client, root, system);
  const vendor = detectVendor(root, manager, system);
  client.logger.info(`redfish: system ${system.id} (${system.manufacturer ?? '?'} ${system.model ?? '?'}), vendor ${vendor.id}${vendor.product === undefined ? '' : ` ${vendor.product}`}`);
  return { client, root, system, manager, vendor, strategy: strategies[vendor.id], systemPaths };
}
