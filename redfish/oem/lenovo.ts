// Lenovo XClarity Controller. What differs (redfish-anchors §2.6, §2.7, §4; gofish virtualmedia_test.go):
//   - VirtualMedia members are RDOC1..2, EXT1..4 and Remote1..4 (gofish's XCC collection sample).
//     RDOC slots hold images uploaded to the BMC (xCAT/confluent PATCH them with
//     file:///gpx/rdocupload/...); EXT slots mount a remote URL. Remote1..4 are not described in
//     the references, so they are not used; only EXT slots take a URL;
//   - the slots have no InsertMedia action: insert and eject are PATCHes of Image/Inserted
//     (the generic PATCH fallback), with Inserted and WriteProtected always sent;
//   - PATCH without If-Match gets 428 Precondition Required (ansible PR #56150), and XCC answers 412
//     to a stale ETag (community.general PR #11270); its ETags are bare hex strings;
//   - SE450 keeps pending Boot settings in Systems/1/Pending (@Redfish.Settings), which holds only
//     BootOrder, so the override goes to the System itself (handled by the boot operation).

import { isCdSlot } from '../resources/virtual-media.js';
import { defineStrategy, standardUsableSlot } from './generic.js';

export const lenovoStrategy = defineStrategy({
  id: 'lenovo',
  requireIfMatch: true,
  usableSlot: (slot) => standardUsableSlot(slot) && !/^(RDOC|Remote)\d*$/i.test(slot.id),
  pickSlot(slots, choice) {
    const cds = slots.filter(isCdSlot);
    const ext = cds.filter((s) => /^EXT\d+$/i.test(s.id));
    const ordered = [...ext, ...cds.filter((s) => !ext.includes(s))];
    return choice === 'cd' ? ordered[0] : ordered[1];
  },
});
