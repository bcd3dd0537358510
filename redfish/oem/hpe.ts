// HPE iLO. What differs (redfish-anchors §2.4, §2.7, §4; proliantutils json samples; HPE ilorest examples):
//   - iLO 5 VirtualMedia.v1_0_0 (Managers/1/VirtualMedia/2) has no standard InsertMedia, only
//     Oem.Hpe.Actions #HpeiLOVirtualMedia.InsertVirtualMedia with body {"Image": url};
//   - boot from that media on the next reset is a property, Oem.Hpe.BootOnNextServerReset, set by
//     a separate PATCH of the slot;
//   - eject needs a JSON body `{}` (sushy release note fix-eject-media-empty-dict); the client always sends one;
//   - ResetType has no GracefulShutdown on iLO 5: graceful off is PushPowerButton (handled by the power operation);
//   - iLO 6 (and iLO 5 with newer firmware) has the standard actions, which are preferred;
//   - "not ready" 400s (InvalidOperationForSystemState, UnableToModifyDuringSystemPOST) are retried by the transport.

import { defineStrategy } from './generic.js';

export const hpeStrategy = defineStrategy({
  id: 'hpe',
  preferOemInsert: true,
  async oemInsert(ctx, slot, image) {
    const target = slot.hpe?.insertTarget;
    if (target === undefined) return false;
    await ctx.client.post(target, { Image: image });
    return true;
  },
  async oemEject(ctx, slot) {
    const target = slot.hpe?.ejectTarget;
    if (target === undefined) return false;
    await ctx.client.post(target, {});
    return true;
  },
  async afterInsert(ctx, slot, opts) {
    if (opts.bootOnNextReset !== true || slot.hpe === undefined) return;
    const fresh = await ctx.client.get(slot.path);
    await ctx.client.patch(slot.path, { Oem: { Hpe: { BootOnNextServerReset: true } } }, fresh.etag === undefined ? {} : { etag: fresh.etag });
  },
});
