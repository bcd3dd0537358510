// Inventory: what rackboot needs to recognise and provision a machine — MACs (DHCP identity),
// UUID (SMBIOS, what iPXE sees), serial, model, CPU, memory, disks with stable names, boot mode,
// Secure Boot. Sub-resources that a BMC lacks or refuses are reported in `gaps`, not as failures.

import type { RedfishClient } from '../client.js';
import { isRedfishError } from '../errors.js';
import { parseChassis } from '../resources/chassis.js';
import { parseEthernetInterface, type EthernetInterface } from '../resources/ethernet-interfaces.js';
import { parseSecureBoot, type SecureBootState } from '../resources/secure-boot.js';
import { parseDrive, parseSimpleStorageDevices, parseStorage, type Drive } from '../resources/storage.js';
import type { PowerState } from '../resources/systems.js';
import type { VendorInfo } from '../oem/types.js';
import { listMembers, type Discovery } from './discovery.js';
import { refreshSystem } from './power.js';

export interface Inventory {
  vendor: VendorInfo;
  system: {
    id: string;
    path: string;
    uuid?: string;
    serialNumber?: string;
    model?: string;
    manufacturer?: string;
    sku?: string;
    biosVersion?: string;
  };
  chassis?: { serialNumber?: string; model?: string; sku?: string; partNumber?: string };
  powerState: PowerState;
  cpu: { count?: number; model?: string; logicalProcessorCount?: number; coreCount?: number };
  memoryGiB?: number;
  nics: EthernetInterface[];
  /** Unique lower-case MACs of the host NICs (permanent MACs included). */
  macs: string[];
  drives: Drive[];
  boot: { mode?: string; overrideEnabled?: string; overrideTarget?: string; allowedTargets?: string[] };
  secureBoot?: SecureBootState;
  /** Parts the BMC did not provide ("Storage: HTTP 404"). */
  gaps: string[];
}

async function optional<T>(client: RedfishClient, gaps: string[], what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isRedfishError(err) && (err.code === 'RB_REDFISH_HTTP' || err.code === 'RB_REDFISH_BAD_RESPONSE')) {
      gaps.push(`${what}: ${err.status === undefined ? err.message : `HTTP ${err.status}`}`);
      client.logger.debug(`redfish: inventory ${what} unavailable: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

export async function inventory(ctx: Discovery): Promise<Inventory> {
  const { client } = ctx;
  const sys = await refreshSystem(ctx);
  const gaps: string[] = [];

  const nics: EthernetInterface[] = [];
  if (sys.links.ethernetInterfaces !== undefined) {
    const paths = (await optional(client, gaps, 'EthernetInterfaces', () => listMembers(client, sys.links.ethernetInterfaces!))) ?? [];
    for (const p of paths) {
      const nic = await optional(client, gaps, `EthernetInterface ${p}`, async () => parseEthernetInterface((await client.getResource(p)).body, p));
      if (nic !== undefined) nics.push(nic);
    }
  } else gaps.push('EthernetInterfaces: not linked from the system');
  const macs = [...new Set(nics.flatMap((n) => [n.macAddress, n.permanentMacAddress]).filter((m): m is string => m !== undefined))];

  const drives: Drive[] = [];
  if (sys.links.storage !== undefined) {
    const subsystems = (await optional(client, gaps, 'Storage', () => listMembers(client, sys.links.storage!))) ?? [];
    for (const sp of subsystems) {
      const st = await optional(client, gaps, `Storage ${sp}`, async () => parseStorage((await client.getResource(sp)).body, sp));
      for (const dp of st?.drives ?? []) {
        const d = await optional(client, gaps, `Drive ${dp}`, async () => parseDrive((await client.getResource(dp)).body, dp));
        if (d !== undefined) drives.push(d);
      }
    }
  }
  if (drives.length === 0 && sys.links.simpleStorage !== undefined) {
    const controllers = (await optional(client, gaps, 'SimpleStorage', () => listMembers(client, sys.links.simpleStorage!))) ?? [];
    for (const cp of controllers) {
      const devs = await optional(client, gaps, `SimpleStorage ${cp}`, async () => parseSimpleStorageDevices((await client.getResource(cp)).body, cp));
      drives.push(...(devs ?? []));
    }
  }

  let secureBoot: SecureBootState | undefined;
  if (sys.links.secureBoot !== undefined) {
    secureBoot = await optional(client, gaps, 'SecureBoot', async () => parseSecureBoot((await client.getResource(sys.links.secureBoot!)).body, sys.links.secureBoot!));
  }

  let chassis: Inventory['chassis'];
  const chassisPath = sys.links.chassis[0];
  if (chassisPath !== undefined) {
    const c = await optional(client, gaps, 'Chassis', async () => parseChassis((await client.getResource(chassisPath)).body, chassisPath));
    if (c !== undefined) {
      chassis = {};
      if (c.serialNumber !== undefined) chassis.serialNumber = c.serialNumber;
      if (c.model !== undefined) chassis.model = c.model;
      if (c.sku !== undefined) chassis.sku = c.sku;
      if (c.partNumber !== undefined) chassis.partNumber = c.partNumber;
    }
  }

  const system: Inventory['system'] = { id: sys.id, path: sys.path };
  for (const k of ['uuid', 'serialNumber', 'model', 'manufacturer', 'sku', 'biosVersion'] as const) {
    const v = sys[k];
    if (v !== undefined) system[k] = v;
  }
  const boot: Inventory['boot'] = {};
  if (sys.boot.overrideMode !== undefined) boot.mode = sys.boot.overrideMode;
  if (sys.boot.overrideEnabled !== undefined) boot.overrideEnabled = sys.boot.overrideEnabled;
  if (sys.boot.overrideTarget !== undefined) boot.overrideTarget = sys.boot.overrideTarget;
  if (sys.boot.allowedTargets !== undefined) boot.allowedTargets = sys.boot.allowedTargets;

  const inv: Inventory = { vendor: ctx.vendor, system, powerState: sys.powerState, cpu: { ...sys.processor }, nics, macs, drives, boot, gaps };
  if (chassis !== undefined) inv.chassis = chassis;
  if (sys.memoryGiB !== undefined) inv.memoryGiB = sys.memoryGiB;
  if (secureBoot !== undefined) inv.secureBoot = secureBoot;
  return inv;
}
