// A vendor strategy is the generic behaviour with a few fields overridden. Each vendor module sets
// only what its BMCs do differently; operations/ call these hooks and nothing else vendor-specific.

import type { RedfishClient } from '../client.js';
import type { Manager } from '../resources/managers.js';
import type { ServiceRoot } from '../resources/service-root.js';
import type { ComputerSystem } from '../resources/systems.js';
import type { VirtualMediaSlot } from '../resources/virtual-media.js';

export type VendorId = 'dell' | 'hpe' | 'lenovo' | 'supermicro' | 'openbmc' | 'generic';

/** What the detector learnt about the BMC. */
export interface VendorInfo {
  id: VendorId;
  /** Human-readable product line: `iDRAC9`, `iDRAC10`, `iLO 5`, `iLO 6`, `XCC`, `OpenBMC`... */
  product?: string;
  managerModel?: string;
  firmwareVersion?: string;
  /** Numeric generation where one is known (iLO 5 → 5, iDRAC on 17G → 10). */
  generation?: number;
}

export type BootTarget = 'Pxe' | 'UefiHttp' | 'Cd' | 'UsbCd';
export type BootMode = 'UEFI' | 'Legacy';
export type MediaSlotChoice = 'cd' | 'second';

export interface VendorContext {
  client: RedfishClient;
  root: ServiceRoot;
  system: ComputerSystem;
  manager: Manager | undefined;
  vendor: VendorInfo;
}

export interface BootOverrideResult {
  /** The target as the BMC spells it (`UsbCd` on Supermicro for a virtual CD). */
  target: string;
  /** What the BMC reports after the change (`Once`; `Continuous` if it would not do one-time). */
  enabled: string;
  mode?: string;
  /** Where the change went: the System, its @Redfish.Settings object, or a vendor OEM action. */
  via: 'system' | 'settings' | 'dell-oem-scp';
  path: string;
  warnings: string[];
}

export interface InsertMediaOptions {
  slot?: MediaSlotChoice;
  /** Default true. */
  inserted?: boolean;
  /** Default true. */
  writeProtected?: boolean;
  /** HPE iLO: also set Oem.Hpe.BootOnNextServerReset so the next reset boots this media. */
  bootOnNextReset?: boolean;
}

export interface VendorStrategy {
  id: VendorId;
  /** PATCHes must carry If-Match: the BMC answers 428 without one. */
  requireIfMatch: boolean;
  /** Send Enabled, Mode and Target in every Boot PATCH (the BMC resets what it is not sent). */
  fullBootBody: boolean;
  /** The BMC rejects `Inserted`/`WriteProtected` in InsertMedia: send only Image (+ protocol). */
  insertOmitsFlags: boolean;
  /** Try the OEM insert before the PATCH fallback when a slot has no standard InsertMedia. */
  preferOemInsert: boolean;
  /** The BMC's spelling of a boot target; throws RB_REDFISH_UNSUPPORTED when it has none. */
  bootTarget(target: BootTarget, allowed: string[] | undefined, ctx: VendorContext): string;
  /** A vendor-specific one-time boot; undefined = use the standard Boot PATCH. */
  oneTimeBoot?(ctx: VendorContext, target: BootTarget, mode: BootMode | undefined): Promise<BootOverrideResult | undefined>;
  /** Whether a slot can mount an image from a URL at all. */
  usableSlot(slot: VirtualMediaSlot, ctx: VendorContext): boolean;
  /** Picks the slot for a request among usable CD slots (sorted by id). */
  pickSlot(slots: VirtualMediaSlot[], choice: MediaSlotChoice, ctx: VendorContext): VirtualMediaSlot | undefined;
  /** Throws RB_REDFISH_UNSUPPORTED for image URLs this BMC cannot mount. */
  checkImageUrl(url: URL, ctx: VendorContext): void;
  /** OEM insert for slots without a standard action; returns false when it does not apply. */
  oemInsert?(ctx: VendorContext, slot: VirtualMediaSlot, image: string): Promise<boolean>;
  /** OEM eject; returns false when it does not apply. */
  oemEject?(ctx: VendorContext, slot: VirtualMediaSlot): Promise<boolean>;
  /** Runs after a successful insert (HPE boot-on-next-reset flag). */
  afterInsert?(ctx: VendorContext, slot: VirtualMediaSlot, opts: InsertMediaOptions): Promise<void>;
}
