// Standard Redfish behaviour (DMTF schema + DSP0266), used as is for unknown BMCs and emulators
// (sushy-tools, DMTF mockups) and as the base every vendor strategy overrides.

import { RedfishError } from '../errors.js';
import { isCdSlot, type VirtualMediaSlot } from '../resources/virtual-media.js';
import type { BootTarget, VendorStrategy } from './types.js';

export function unsupportedTarget(target: string, allowed: string[]): RedfishError {
  return new RedfishError('RB_REDFISH_UNSUPPORTED', `boot target ${target} is not offered by this BMC (allowed: ${allowed.join(', ') || 'none'})`);
}

/** Standard mapping: the target itself, Cd↔UsbCd when only the other spelling exists. No list = anything goes (sushy). */
export function standardBootTarget(target: BootTarget, allowed: string[] | undefined): string {
  if (allowed === undefined) return target;
  if (allowed.includes(target)) return target;
  if (target === 'Cd' && allowed.includes('UsbCd')) return 'UsbCd';
  if (target === 'UsbCd' && allowed.includes('Cd')) return 'Cd';
  throw unsupportedTarget(target, allowed);
}

/** A slot can mount a URL when it has InsertMedia, an HPE OEM insert, or no actions at all (PATCH style). */
export function standardUsableSlot(slot: VirtualMediaSlot): boolean {
  if (slot.openbmcProxy) return false;
  if (slot.insertTarget !== undefined || slot.hpe?.insertTarget !== undefined) return true;
  return slot.ejectTarget === undefined;
}

export const genericStrategy: VendorStrategy = {
  id: 'generic',
  requireIfMatch: false,
  fullBootBody: false,
  insertOmitsFlags: false,
  preferOemInsert: false,
  bootTarget: (target, allowed) => standardBootTarget(target, allowed),
  usableSlot: (slot) => standardUsableSlot(slot),
  pickSlot: (slots, choice) => {
    const cds = slots.filter(isCdSlot);
    return choice === 'cd' ? cds[0] : cds[1];
  },
  checkImageUrl: (url) => {
    if (!['http:', 'https:', 'nfs:', 'smb:', 'cifs:'].includes(url.protocol)) {
      throw new RedfishError('RB_REDFISH_UNSUPPORTED', `image URL scheme ${url.protocol} is not a virtual media transfer protocol`);
    }
  },
};

/** A strategy that differs from the generic one only in the given fields. */
export function defineStrategy(overrides: Partial<VendorStrategy> & Pick<VendorStrategy, 'id'>): VendorStrategy {
  return { ...genericStrategy, ...overrides };
}
