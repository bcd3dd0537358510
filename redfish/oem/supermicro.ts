// Supermicro (AMI-based Redfish). What differs (redfish-anchors §2.5, §2.7, §4; sushy system.py; bmclib PR #459):
//   - the virtual CD boot target is `UsbCd`, not `Cd` (except the ARS-111GL-NHR, which uses `Cd`);
//   - BootSourceOverrideEnabled must always be sent, and the Mode too or the board resets it
//     (Ironic; DMTF Redfishtool PR #106): full Boot body every time;
//   - it can answer 200 to a Boot PATCH and revert Mode/Enabled (AS-1015CS-TNR): the boot
//     operation reads back every change anyway;
//   - InsertMedia rejects Inserted/WriteProtected on X11/X12: only Image (and the protocol) is sent;
//   - a stale Image blocks insert even when not connected: the insert ejects when Image is set;
//   - resources carry ETags and PATCHes are sent with If-Match.

import { defineStrategy, standardBootTarget, unsupportedTarget } from './generic.js';

/** Models whose virtual CD boot target is plain `Cd` (sushy system.py). */
const CD_MODELS = new Set(['ARS-111GL-NHR']);

export const supermicroStrategy = defineStrategy({
  id: 'supermicro',
  requireIfMatch: true,
  fullBootBody: true,
  insertOmitsFlags: true,
  bootTarget(target, allowed, ctx) {
    const wantsCd = target === 'Cd' || target === 'UsbCd';
    if (wantsCd && !CD_MODELS.has(ctx.system.model ?? '')) {
      if (allowed === undefined || allowed.includes('UsbCd')) return 'UsbCd';
      if (allowed.includes('Cd')) return 'Cd';
      throw unsupportedTarget(target, allowed);
    }
    return standardBootTarget(target === 'UsbCd' ? 'Cd' : target, allowed);
  },
});
