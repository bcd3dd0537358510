// Dell iDRAC. What differs (redfish-anchors §2.5, §2.7, §4; sushy oem/dell; Ironic drac/boot.py):
//   - iDRAC9 before 6.00.02 keeps VirtualMedia under Managers/iDRAC.Embedded.1 ({CD, RemovableDisk})
//     and its `Cd` boot target selects the physical drive, so a one-time boot from the virtual CD
//     goes through the OEM ImportSystemConfiguration action (ServerBoot.1#BootOnce=Enabled,
//     FirstBootDevice=VCD-DVD), an asynchronous job followed to completion;
//   - iDRAC9 6.x/7.x and iDRAC10 use the standard Boot PATCH and Systems/System.Embedded.1/VirtualMedia/{1,2};
//   - iDRAC10 (17G) takes only slot 1 for images (Ironic _get_acceptable_media_id), so no second slot;
//   - iDRAC10 rejects If-Match on action POSTs (gofish PR #510): the client never sends one there.

import { RedfishError } from '../errors.js';
import { get, isRecord, text } from '../json.js';
import { isCdSlot } from '../resources/virtual-media.js';
import { defineStrategy } from './generic.js';
import type { BootOverrideResult, VendorContext } from './types.js';

/** iDRAC firmware major version (`3.34.34.34` → 3). */
function firmwareMajor(ctx: VendorContext): number | undefined {
  const m = /^(\d+)\./.exec(ctx.vendor.firmwareVersion ?? '');
  return m === null ? undefined : Number(m[1]);
}

/** iDRAC9 firmware older than 6.x: the virtual CD is only reachable as a boot device through SCP. */
export function needsScpVirtualCdBoot(ctx: VendorContext): boolean {
  if (ctx.vendor.generation === 10) return false;
  const major = firmwareMajor(ctx);
  return major !== undefined && major < 6;
}

function importSystemConfigurationTarget(ctx: VendorContext): string | undefined {
  const oem = get(ctx.manager?.raw, 'Actions', 'Oem');
  if (!isRecord(oem)) return undefined;
  for (const [k, v] of Object.entries(oem)) {
    if (k.endsWith('#OemManager.ImportSystemConfiguration')) return text(get(v, 'target'));
  }
  return undefined;
}

// iDRAC rejects the job when this XML has insignificant whitespace (sushy's note), so no newlines.
function scpVirtualCdOnce(fqdd: string): string {
  return (
    `<SystemConfiguration><Component FQDD="${fqdd}">` +
    `<Attribute Name="ServerBoot.1#BootOnce">Enabled</Attribute>` +
    `<Attribute Name="ServerBoot.1#FirstBootDevice">VCD-DVD</Attribute>` +
    `</Component></SystemConfiguration>`
  );
}

export const dellStrategy = defineStrategy({
  id: 'dell',
  async oneTimeBoot(ctx, target): Promise<BootOverrideResult | undefined> {
    if ((target !== 'Cd' && target !== 'UsbCd') || !needsScpVirtualCdBoot(ctx)) return undefined;
    const action = importSystemConfigurationTarget(ctx);
    if (action === undefined || ctx.manager === undefined) {
      throw new RedfishError('RB_REDFISH_UNSUPPORTED', `iDRAC ${ctx.vendor.firmwareVersion ?? ''} needs ImportSystemConfiguration to boot the virtual CD, and the manager does not offer it`);
    }
    const body = { ShareParameters: { Target: ['ALL'] }, ImportBuffer: scpVirtualCdOnce(ctx.manager.id) };
    const res = await ctx.client.post(action, body);
    if (res.status === 202 && res.task === undefined) {
      throw new RedfishError('RB_REDFISH_BAD_RESPONSE', 'ImportSystemConfiguration was accepted without a job to follow');
    }
    return {
      target: 'VCD-DVD',
      enabled: 'Once',
      via: 'dell-oem-scp',
      path: action,
      warnings: ['boot device set through the iDRAC job (ServerBoot.1#BootOnce); System.Boot is not updated by it'],
    };
  },
  pickSlot(slots, choice, ctx) {
    const cds = slots.filter(isCdSlot);
    if (choice === 'cd') return cds.find((s) => s.id === '1' || s.id === 'CD') ?? cds[0];
    if (ctx.vendor.generation === 10) return undefined;
    return cds.find((s) => s.id === '2') ?? cds.filter((s) => s.id !== '1' && s.id !== 'CD')[0];
  },
});
