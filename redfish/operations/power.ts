// Power: state, reset with the allowed values, and idempotent on/off.
//
// The allowed ResetType values come from `ResetType@Redfish.AllowableValues` or from the action's
// ActionInfo (gofish reads both; with neither, anything is tried). A requested type the BMC does not
// offer is replaced by the nearest one of the same intent, never by a harsher one:
//   On → ForceOn;  GracefulShutdown → PushPowerButton (iLO 5 has no GracefulShutdown);
//   ForceRestart ↔ PowerCycle;  GracefulRestart → ForceRestart.
// powerOn/powerOff skip the call when the system is already there: many BMCs answer 400/409 to
// "On" when on (bmclib does the same).

import type { ActionResult } from '../client.js';
import { RedfishError, isRedfishError } from '../errors.js';
import { parseComputerSystem, parseResetActionInfo, RESET_TYPES, type ComputerSystem, type PowerState, type ResetType } from '../resources/systems.js';
import type { Discovery } from './discovery.js';

export interface PowerResult {
  /** False when the system was already in the requested state and nothing was sent. */
  changed: boolean;
  /** The ResetType actually sent. */
  resetType?: ResetType;
  /** PowerState read before the call (or after waiting, with `wait`). */
  powerState: PowerState;
  task?: ActionResult['task'];
}

export interface PowerWaitOptions {
  /** Poll PowerState until it reaches the goal. */
  wait?: boolean;
  timeoutMs?: number;
  intervalMs?: number;
}

const FALLBACKS: Partial<Record<ResetType, ResetType[]>> = {
  On: ['On', 'ForceOn'],
  ForceOn: ['ForceOn', 'On'],
  GracefulShutdown: ['GracefulShutdown', 'PushPowerButton'],
  ForceOff: ['ForceOff'],
  ForceRestart: ['ForceRestart', 'PowerCycle'],
  PowerCycle: ['PowerCycle', 'ForceRestart'],
  GracefulRestart: ['GracefulRestart', 'ForceRestart'],
};

export async function refreshSystem(ctx: Discovery): Promise<ComputerSystem> {
  const res = await ctx.client.getResource(ctx.system.path);
  ctx.system = parseComputerSystem(res.body, ctx.system.path, res.etag);
  return ctx.system;
}

export async function powerState(ctx: Discovery): Promise<PowerState> {
  return (await refreshSystem(ctx)).powerState;
}

/** Allowed ResetType values, or undefined when the BMC publishes none. */
export async function allowedResetTypes(ctx: Discovery, system: ComputerSystem = ctx.system): Promise<string[] | undefined> {
  const reset = system.reset;
  if (reset === undefined) return undefined;
  if (reset.allowed !== undefined) return reset.allowed;
  if (reset.actionInfo === undefined) return undefined;
  try {
    return parseResetActionInfo((await ctx.client.getResource(reset.actionInfo)).body);
  } catch (err) {
    if (isRedfishError(err, 'RB_REDFISH_HTTP')) return undefined;
    throw err;
  }
}

/** The ResetType to send for a request, given what the BMC allows. */
export function chooseResetType(requested: ResetType, allowed: string[] | undefined): ResetType {
  if (!(RESET_TYPES as readonly string[]).includes(requested)) {
    throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', `unknown ResetType ${String(requested)}`);
  }
  if (allowed === undefined || allowed.includes(requested)) return requested;
  for (const alt of FALLBACKS[requested] ?? [requested]) if (allowed.includes(alt)) return alt;
  throw new RedfishError('RB_REDFISH_UNSUPPORTED', `ResetType ${requested} is not offered by this BMC (allowed: ${allowed.join(', ') || 'none'})`);
}

export async function reset(ctx: Discovery, type: ResetType): Promise<{ resetType: ResetType; task?: ActionResult['task'] }> {
  const system = await refreshSystem(ctx);
  if (system.reset === undefined) throw new RedfishError('RB_REDFISH_UNSUPPORTED', `system ${system.id} has no #ComputerSystem.Reset action`);
  const resetType = chooseResetType(type, await allowedResetTypes(ctx, system));
  if (resetType !== type) ctx.client.logger.info(`redfish: ${type} is not offered; sending ${resetType}`);
  const res = await ctx.client.post(system.reset.target, { ResetType: resetType });
  return { resetType, ...(res.task === undefined ? {} : { task: res.task }) };
}

export async function waitForPowerState(ctx: Discovery, goal: 'On' | 'Off', opts: PowerWaitOptions = {}): Promise<PowerState> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5 * 60_000);
  const interval = opts.intervalMs ?? 2000;
  for (;;) {
    const state = await powerState(ctx);
    if (state === goal) return state;
    if (Date.now() + interval > deadline) {
      throw new RedfishError('RB_REDFISH_TIMEOUT', `system ${ctx.system.id} did not reach power state ${goal} (still ${state})`);
    }
    await ctx.client.sleep(interval);
  }
}

export async function powerOn(ctx: Discovery, opts: PowerWaitOptions = {}): Promise<PowerResult> {
  const system = await refreshSystem(ctx);
  if (system.powerState === 'On' || system.powerState === 'PoweringOn') return { changed: false, powerState: system.powerState };
  const allowed = await allowedResetTypes(ctx, system);
  // Only when the system is known to be off may a PushPowerButton stand in for On (it toggles).
  let type: ResetType;
  try {
    type = chooseResetType('On', allowed);
  } catch (err) {
    if (system.powerState === 'Off' && allowed?.includes('PushPowerButton')) type = 'PushPowerButton';
    else throw err;
  }
  const r = await reset(ctx, type);
  const powerState = opts.wait ? await waitForPowerState(ctx, 'On', opts) : system.powerState;
  return { changed: true, resetType: r.resetType, powerState, ...(r.task === undefined ? {} : { task: r.task }) };
}

export async function powerOff(ctx: Discovery, opts: PowerWaitOptions & { force?: boolean } = {}): Promise<PowerResult> {
  const system = await refreshSystem(ctx);
  if (system.powerState === 'Off' || system.powerState === 'PoweringOff') return { changed: false, powerState: system.powerState };
  const r = await reset(ctx, opts.force ? 'ForceOff' : 'GracefulShutdown');
  const powerState = opts.wait ? await waitForPowerState(ctx, 'Off', opts) : system.powerState;
  return { changed: true, resetType: r.resetType, powerState, ...(r.task === undefined ? {} : { task: r.task }) };
}
