// RedfishMachine: the facade the service uses. One System on one BMC, discovered once, with the
// vendor strategy chosen from what the BMC says about itself.

import { RedfishClient, type RedfishClientOptions } from './client.js';
import type { ComputerSystem, PowerState, ResetType } from './resources/systems.js';
import type { VirtualMediaSlot } from './resources/virtual-media.js';
import type { BootMode, BootOverrideResult, BootTarget, InsertMediaOptions, MediaSlotChoice, VendorInfo, VendorStrategy } from './oem/types.js';
import { discover, type Discovery } from './operations/discovery.js';
import { inventory, type Inventory } from './operations/inventory.js';
import { powerOff, powerOn, powerState, refreshSystem, reset, waitForPowerState, type PowerResult, type PowerWaitOptions } from './operations/power.js';
import { clearBootOverride, setOneTimeBoot, type OneTimeBootOptions } from './operations/boot.js';
import { ejectMedia, insertMedia, listSlots, type MediaResult } from './operations/virtual-media.js';

export class RedfishMachine {
  private constructor(private readonly ctx: Discovery) {}

  /** Discovers the System (systemId, or the only one) behind an open client. */
  static async open(client: RedfishClient, opts: { systemId?: string } = {}): Promise<RedfishMachine> {
    return new RedfishMachine(await discover(client, opts.systemId ?? client.systemId));
  }

  get client(): RedfishClient {
    return this.ctx.client;
  }

  get vendor(): VendorInfo {
    return this.ctx.vendor;
  }

  get strategy(): VendorStrategy {
    return this.ctx.strategy;
  }

  /** The System as last read. */
  get system(): ComputerSystem {
    return this.ctx.system;
  }

  get managerPath(): string | undefined {
    return this.ctx.manager?.path;
  }

  async refresh(): Promise<ComputerSystem> {
    return refreshSystem(this.ctx);
  }

  inventory(): Promise<Inventory> {
    return inventory(this.ctx);
  }

  powerState(): Promise<PowerState> {
    return powerState(this.ctx);
  }

  /** Sends a reset, replacing a type the BMC does not offer by the nearest one of the same intent. */
  reset(type: ResetType): Promise<{ resetType: ResetType }> {
    return reset(this.ctx, type);
  }

  /** No-op when already On. */
  powerOn(opts?: PowerWaitOptions): Promise<PowerResult> {
    return powerOn(this.ctx, opts);
  }

  /** No-op when already Off; graceful unless `force`. */
  powerOff(opts?: PowerWaitOptions & { force?: boolean }): Promise<PowerResult> {
    return powerOff(this.ctx, opts);
  }

  waitForPowerState(goal: 'On' | 'Off', opts?: PowerWaitOptions): Promise<PowerState> {
    return waitForPowerState(this.ctx, goal, opts);
  }

  /** Sets a one-time boot override and reads it back (RB_REDFISH_BOOT_NOT_APPLIED if reverted). */
  setOneTimeBoot(target: BootTarget, mode?: BootMode, opts?: OneTimeBootOptions): Promise<BootOverrideResult> {
    return setOneTimeBoot(this.ctx, target, mode, opts);
  }

  clearBootOverride(): Promise<BootOverrideResult> {
    return clearBootOverride(this.ctx);
  }

  virtualMediaSlots(): Promise<VirtualMediaSlot[]> {
    return listSlots(this.ctx);
  }

  /** Ejects what the slot holds, inserts the image along the vendor's fallback chain, reads it back. */
  insertMedia(url: string, opts?: InsertMediaOptions): Promise<MediaResult> {
    return insertMedia(this.ctx, url, opts);
  }

  ejectMedia(opts?: { slot?: MediaSlotChoice }): Promise<MediaResult[]> {
    return ejectMedia(this.ctx, opts);
  }

  /** Logs out of the BMC. */
  close(): Promise<void> {
    return this.ctx.client.close();
  }
}

/** Creates a client and discovers its System; the client is closed again if discovery fails. */
export async function connectRedfish(options: RedfishClientOptions): Promise<RedfishMachine> {
  const client = new RedfishClient(options);
  try {
    return await RedfishMachine.open(client);
  } catch (err) {
    await client.close();
    throw err;
  }
}
