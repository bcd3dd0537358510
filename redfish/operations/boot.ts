// One-time boot override with read-back.
//
// 1. Vendor hook first (Dell iDRAC9 < 6: virtual CD via the SCP job).
// 2. Where to write: the System, or its `@Redfish.Settings` SettingsObject when that object holds
//    BootSourceOverrideTarget (AMI/Nokia `Systems/Self/SD`); there only the override keys the object
//    has are sent (sushy). A settings object without the target (Lenovo SE450 `Pending`: BootOrder
//    only; iDRAC `Settings`: Mode only) is left alone, unless the System refuses the direct PATCH
//    (400/405), in which case the whole body goes to the settings object.
// 3. The body: Target, plus Enabled=Once unless it already is (some BMCs reject setting it to its
//    current value; Supermicro wants it every time), plus Mode when asked for (or always on
//    full-body vendors). A 400 with Mode in the body is retried without it (HP DL160 Gen10, bmclib PR #318).
// 4. Read back and compare: BMCs answer 200 and revert (Supermicro AS-1015CS-TNR, bmclib PR #459).
//    A mismatch is RB_REDFISH_BOOT_NOT_APPLIED. `Continuous` instead of `Once` is accepted with a
//    warning (sushy-tools reports Continuous whatever it is sent); the caller then clears it after boot.

import { RedfishError, isRedfishError } from '../errors.js';
import { get, isRecord, type JsonObject } from '../json.js';
import { parseBoot, type BootSettings } from '../resources/systems.js';
import type { BootMode, BootOverrideResult, BootTarget } from '../oem/types.js';
import type { Discovery } from './discovery.js';
import { refreshSystem } from './power.js';

export const BOOT_TARGETS: readonly BootTarget[] = ['Pxe', 'UefiHttp', 'Cd', 'UsbCd'];
export const BOOT_MODES: readonly BootMode[] = ['UEFI', 'Legacy'];

export interface OneTimeBootOptions {
  /** UefiHttp only: the URI to boot (Boot.HttpBootUri, ComputerSystem v1_9_0+). */
  httpBootUri?: string;
}

const OVERRIDE_KEYS = ['BootSourceOverrideTarget', 'BootSourceOverrideEnabled', 'BootSourceOverrideMode'];

interface WritePlace {
  via: 'system' | 'settings';
  path: string;
  etag?: string;
  boot: BootSettings;
  /** Keys the settings object holds; undefined = all. */
  keys?: string[];
}

async function settingsPlace(ctx: Discovery): Promise<WritePlace | undefined> {
  const so = ctx.system.settingsObject;
  if (so === undefined) return undefined;
  const res = await ctx.client.getResource(so);
  const boot = get(res.body, 'Boot');
  const keys = isRecord(boot) ? OVERRIDE_KEYS.filter((k) => k in boot) : [];
  return { via: 'settings', path: so, ...(res.etag === undefined ? {} : { etag: res.etag }), boot: parseBoot(boot), keys };
}

function systemPlace(ctx: Discovery): WritePlace {
  return { via: 'system', path: ctx.system.path, ...(ctx.system.etag === undefined ? {} : { etag: ctx.system.etag }), boot: ctx.system.boot };
}

function pick(body: JsonObject, keys: string[] | undefined): JsonObject {
  if (keys === undefined) return body;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(body)) if (keys.includes(k) || !OVERRIDE_KEYS.includes(k)) out[k] = v;
  return out;
}

async function patchBoot(ctx: Discovery, place: WritePlace, boot: JsonObject): Promise<void> {
  const opts = { requireIfMatch: ctx.strategy.requireIfMatch, ...(place.etag === undefined ? {} : { etag: place.etag }) };
  try {
    await ctx.client.patch(place.path, { Boot: pick(boot, place.keys) }, opts);
  } catch (err) {
    if (isRedfishError(err, 'RB_REDFISH_HTTP') && err.status === 400 && 'BootSourceOverrideMode' in boot && !ctx.strategy.fullBootBody) {
      ctx.client.logger.warn(`redfish: Boot PATCH with BootSourceOverrideMode refused (${err.message}); retrying without it`);
      const { BootSourceOverrideMode: _dropped, ...minimal } = boot;
      await ctx.client.patch(place.path, { Boot: pick(minimal, place.keys) }, opts);
      return;
    }
    throw err;
  }
}

/** PATCHes the boot body to the settings object when it holds the override keys, else to the System (then the settings object). */
async function writeBoot(ctx: Discovery, build: (current: BootSettings) => JsonObject): Promise<WritePlace> {
  const settings = await settingsPlace(ctx);
  if (settings?.keys?.includes('BootSourceOverrideTarget')) {
    await patchBoot(ctx, settings, build(mergeBoot(ctx.system.boot, settings.boot)));
    return settings;
  }
  const sys = systemPlace(ctx);
  try {
    await patchBoot(ctx, sys, build(sys.boot));
    return sys;
  } catch (err) {
    // AMI answers OperationSupportedInFutureStateURI on the System and wants the SD object (Redfish-Tacklebox#144).
    if (settings !== undefined && isRedfishError(err, 'RB_REDFISH_HTTP') && (err.status === 400 || err.status === 405)) {
      ctx.client.logger.warn(`redfish: Boot PATCH on ${sys.path} refused (${err.message}); writing to settings object ${settings.path}`);
      const place: WritePlace = { via: 'settings', path: settings.path, boot: settings.boot, ...(settings.etag === undefined ? {} : { etag: settings.etag }) };
      await patchBoot(ctx, place, build(mergeBoot(ctx.system.boot, settings.boot)));
      return place;
    }
    throw err;
  }
}

function mergeBoot(live: BootSettings, pending: BootSettings): BootSettings {
  const defined = Object.fromEntries(Object.entries(pending).filter(([, v]) => v !== undefined && v !== false)) as Partial<BootSettings>;
  return { ...live, ...defined, hasOverrideMode: live.hasOverrideMode || pending.hasOverrideMode, hasHttpBootUri: live.hasHttpBootUri || pending.hasHttpBootUri };
}

async function readBack(ctx: Discovery, place: WritePlace): Promise<BootSettings> {
  if (place.via === 'system') return (await refreshSystem(ctx)).boot;
  return parseBoot(get((await ctx.client.getResource(place.path)).body, 'Boot'));
}

export async function setOneTimeBoot(ctx: Discovery, target: BootTarget, mode?: BootMode, opts: OneTimeBootOptions = {}): Promise<BootOverrideResult> {
  if (!BOOT_TARGETS.includes(target)) throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', `boot target must be one of ${BOOT_TARGETS.join(', ')}`);
  if (mode !== undefined && !BOOT_MODES.includes(mode)) throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', `boot mode must be UEFI or Legacy`);
  if (opts.httpBootUri !== undefined && target !== 'UefiHttp') throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', 'httpBootUri only applies to the UefiHttp target');

  await refreshSystem(ctx);
  const hooked = await ctx.strategy.oneTimeBoot?.(ctx, target, mode);
  if (hooked !== undefined) return hooked;

  const warnings: string[] = [];
  let bmcTarget = '';
  let sentMode: string | undefined;
  const place = await writeBoot(ctx, (current) => {
    const allowedModes = current.allowedModes;
    if (mode !== undefined && allowedModes !== undefined && !allowedModes.includes(mode)) {
      throw new RedfishError('RB_REDFISH_UNSUPPORTED', `boot mode ${mode} is not offered by this BMC (allowed: ${allowedModes.join(', ')})`);
    }
    bmcTarget = ctx.strategy.bootTarget(target, current.allowedTargets, ctx);
    const boot: JsonObject = { BootSourceOverrideTarget: bmcTarget };
    if (ctx.strategy.fullBootBody || current.overrideEnabled !== 'Once') boot['BootSourceOverrideEnabled'] = 'Once';
    sentMode = mode ?? (ctx.strategy.fullBootBody ? current.overrideMode : undefined);
    if (sentMode !== undefined) {
      if (current.hasOverrideMode || mode !== undefined) boot['BootSourceOverrideMode'] = sentMode;
      if (!current.hasOverrideMode && mode !== undefined) warnings.push('the BMC does not report BootSourceOverrideMode; the mode may be ignored');
    }
    if (target === 'UefiHttp') {
      // sushy sends null to clear a stale URI when none is given.
      if (opts.httpBootUri !== undefined) boot['HttpBootUri'] = opts.httpBootUri;
      else if (current.hasHttpBootUri) boot['HttpBootUri'] = null;
    }
    return boot;
  });

  const after = await readBack(ctx, place);
  const problems: string[] = [];
  if (after.overrideTarget !== bmcTarget) problems.push(`target is ${after.overrideTarget ?? 'unset'}, not ${bmcTarget}`);
  if (after.overrideEnabled !== 'Once' && after.overrideEnabled !== 'Continuous') problems.push(`override is ${after.overrideEnabled ?? 'unset'}, not Once`);
  if (mode !== undefined && after.overrideMode !== undefined && after.overrideMode !== mode) problems.push(`mode is ${after.overrideMode}, not ${mode}`);
  if (problems.length > 0) {
    throw new RedfishError('RB_REDFISH_BOOT_NOT_APPLIED', `the BMC accepted the one-time boot to ${bmcTarget} but reading it back shows ${problems.join('; ')}`, { path: place.path });
  }
  if (after.overrideEnabled === 'Continuous') warnings.push('the BMC set a Continuous override instead of Once; clear it after the boot');
  const result: BootOverrideResult = { target: bmcTarget, enabled: after.overrideEnabled ?? 'Once', via: place.via, path: place.path, warnings };
  const m = after.overrideMode ?? sentMode;
  if (m !== undefined) result.mode = m;
  for (const w of warnings) ctx.client.logger.warn(`redfish: ${w}`);
  return result;
}

export async function clearBootOverride(ctx: Discovery): Promise<BootOverrideResult> {
  await refreshSystem(ctx);
  const place = await writeBoot(ctx, (current) => {
    const boot: JsonObject = { BootSourceOverrideEnabled: 'Disabled' };
    if (ctx.strategy.fullBootBody) {
      if (current.allowedTargets === undefined || current.allowedTargets.includes('None')) boot['BootSourceOverrideTarget'] = 'None';
      if (current.overrideMode !== undefined) boot['BootSourceOverrideMode'] = current.overrideMode;
    }
    return boot;
  });
  const after = await readBack(ctx, place);
  if (after.overrideEnabled !== 'Disabled' && after.overrideTarget !== 'None') {
    throw new RedfishError('RB_REDFISH_BOOT_NOT_APPLIED', `clearing the boot override was accepted but it reads back ${after.overrideEnabled ?? '?'} → ${after.overrideTarget ?? '?'}`, { path: place.path });
  }
  return { target: after.overrideTarget ?? 'None', enabled: after.overrideEnabled ?? 'Disabled', via: place.via, path: place.path, warnings: [] };
}
