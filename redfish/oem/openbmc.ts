// OpenBMC (bmcweb). What differs (redfish-anchors §2.7, §4; bmcweb redfish-core/lib/virtual_media.hpp, systems.hpp, query.hpp):
//   - VirtualMedia lives under Managers/bmc; only "Legacy" mode slots (the ones with an InsertMedia
//     action) mount a URL. "Proxy" mode slots stream from a websocket client (NBD) and are skipped;
//   - Legacy mode mounts only https:// and smb:// (CIFS) images; http:// is refused before asking;
//   - Boot targets are None/Pxe/Hdd/Cd/Diags/BiosSetup/Usb (no UefiHttp);
//   - If-Match `*` is accepted, a stale ETag is 412, and If-Match on GET is 412 (never sent on GET).

import { RedfishError } from '../errors.js';
import { defineStrategy, standardUsableSlot } from './generic.js';

export const openbmcStrategy = defineStrategy({
  id: 'openbmc',
  usableSlot: (slot) => standardUsableSlot(slot) && slot.insertTarget !== undefined,
  checkImageUrl(url) {
    if (url.protocol !== 'https:' && url.protocol !== 'smb:') {
      throw new RedfishError('RB_REDFISH_UNSUPPORTED', `OpenBMC legacy virtual media mounts only https:// or smb:// images, not ${url.protocol}//`);
    }
  },
});
