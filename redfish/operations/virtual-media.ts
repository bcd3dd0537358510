// Virtual media: find the slots (System and Manager collections, de-duplicated), eject before
// insert, insert along a fallback chain, and read the slot back.
//
// Insert chain for one slot (redfish-anchors §2.7 and §7.6):
//   1. InsertMedia with TransferProtocolType from the URL scheme (AMI/Nokia require it);
//   2. InsertMedia without it (for services that reject the parameter);
//   3. InsertMedia with TransferMethod "Stream" when the BMC said it is missing (sushy sample);
//   4. PATCH of the slot {Image, Inserted, WriteProtected} with If-Match (Lenovo XCC: no action);
//   5. the HPE OEM InsertVirtualMedia action (iLO 5 VirtualMedia.v1_0_0).
// Steps 4 and 5 swap when the strategy prefers the OEM action. Each step runs when the previous
// ones were refused with 400/404/405/501; any other failure stops the chain. `Inserted`/`WriteProtected` are sent
// to InsertMedia only when they differ from the defaults (true), and never to BMCs that reject them
// (Supermicro X11/X12).

import { RedfishError, isRedfishError } from '../errors.js';
import { lastSegment, samePath, type JsonObject } from '../json.js';
import { isCdSlot, parseVirtualMedia, type VirtualMediaSlot } from '../resources/virtual-media.js';
import type { InsertMediaOptions, MediaSlotChoice } from '../oem/types.js';
import { listMembers, type Discovery } from './discovery.js';

export interface MediaResult {
  slot: { id: string; path: string };
  image?: string;
  /** Which step of the chain worked (for insert), or how the slot was emptied (for eject). */
  method: 'InsertMedia' | 'InsertMedia-without-protocol' | 'InsertMedia-with-TransferMethod' | 'PATCH' | 'HpeOem' | 'EjectMedia' | 'already-empty';
  /** Insert only: a previous image was ejected first. */
  ejectedFirst?: boolean;
}

function naturalById(a: VirtualMediaSlot, b: VirtualMediaSlot): number {
  return a.id.localeCompare(b.id, undefined, { numeric: true });
}

/** Every VirtualMedia slot of the System and its Manager, de-duplicated by path, sorted by id. */
export async function listSlots(ctx: Discovery): Promise<VirtualMediaSlot[]> {
  const collections: string[] = [];
  if (ctx.system.links.virtualMedia !== undefined) collections.push(ctx.system.links.virtualMedia);
  if (ctx.manager?.virtualMedia !== undefined && !collections.some((c) => samePath(c, ctx.manager!.virtualMedia!))) collections.push(ctx.manager.virtualMedia);
  const slots: VirtualMediaSlot[] = [];
  for (const c of collections) {
    let members: string[];
    try {
      members = await listMembers(ctx.client, c);
    } catch (err) {
      if (isRedfishError(err, 'RB_REDFISH_HTTP') && err.status === 404) continue;
      throw err;
    }
    for (const m of members) {
      if (slots.some((s) => samePath(s.path, m))) continue;
      const res = await ctx.client.getResource(m);
      slots.push(parseVirtualMedia(res.body, m, res.etag));
    }
  }
  return slots.sort(naturalById);
}

async function readSlot(ctx: Discovery, path: string): Promise<VirtualMediaSlot> {
  const res = await ctx.client.getResource(path);
  return parseVirtualMedia(res.body, path, res.etag);
}

function transferProtocol(url: URL): string | undefined {
  switch (url.protocol) {
    case 'http:':
      return 'HTTP';
    case 'https:':
      return 'HTTPS';
    case 'nfs:':
      return 'NFS';
    case 'smb:':
    case 'cifs:':
      return 'CIFS';
    default:
      return undefined;
  }
}

async function chooseSlot(ctx: Discovery, choice: MediaSlotChoice): Promise<VirtualMediaSlot> {
  const all = await listSlots(ctx);
  const usable = all.filter((s) => isCdSlot(s) && ctx.strategy.usableSlot(s, ctx));
  const slot = ctx.strategy.pickSlot(usable, choice, ctx);
  if (slot !== undefined) return slot;
  const seen = all.map((s) => `${s.id} [${s.mediaTypes.join('/')}]`).join(', ') || 'none';
  throw new RedfishError(
    'RB_REDFISH_UNSUPPORTED',
    choice === 'second' ? `this BMC has no second virtual CD slot that can mount a URL (slots: ${seen})` : `this BMC has no virtual CD slot that can mount a URL (slots: ${seen})`,
  );
}

function holdsMedia(s: VirtualMediaSlot): boolean {
  // A stale Image blocks insert on Supermicro even when not connected (community.general #6969).
  return s.inserted || s.image !== undefined;
}

/** Empties one slot and verifies it; 400/409 from a slot that turns out empty counts as success (sushy). */
async function ejectSlot(ctx: Discovery, slot: VirtualMediaSlot): Promise<MediaResult['method']> {
  if (!holdsMedia(slot)) return 'already-empty';
  let method: MediaResult['method'];
  try {
    if (slot.ejectTarget !== undefined) {
      // A JSON body `{}`: iLO answers 415/400 to an eject without one.
      await ctx.client.post(slot.ejectTarget, {});
      method = 'EjectMedia';
    } else if (await ctx.strategy.oemEject?.(ctx, slot)) {
      method = 'HpeOem';
    } else {
      await ctx.client.patch(slot.path, { Image: null, Inserted: false }, { requireIfMatch: ctx.strategy.requireIfMatch, ...(slot.etag === undefined ? {} : { etag: slot.etag }) });
      method = 'PATCH';
    }
  } catch (err) {
    if (!(isRedfishError(err, 'RB_REDFISH_HTTP') && (err.status === 400 || err.status === 409))) throw err;
    const now = await readSlot(ctx, slot.path);
    if (now.inserted) throw err;
    return 'EjectMedia';
  }
  const after = await readSlot(ctx, slot.path);
  if (after.inserted) {
    throw new RedfishError('RB_REDFISH_MEDIA_NOT_APPLIED', `slot ${slot.id} still reports media inserted after the eject`, { path: slot.path });
  }
  return method;
}

function insertBody(ctx: Discovery, image: string, opts: InsertMediaOptions, extra: JsonObject): JsonObject {
  const body: JsonObject = { Image: image, ...extra };
  const inserted = opts.inserted ?? true;
  const writeProtected = opts.writeProtected ?? true;
  if (ctx.strategy.insertOmitsFlags) {
    if (!inserted || !writeProtected) ctx.client.logger.warn(`redfish: this BMC rejects Inserted/WriteProtected; sending the image only`);
    return body;
  }
  if (!inserted) body['Inserted'] = false;
  if (!writeProtected) body['WriteProtected'] = false;
  return body;
}

function mentions(err: unknown, word: string): boolean {
  if (!isRedfishError(err)) return false;
  const w = word.toLowerCase();
  return (
    err.message.toLowerCase().includes(w) ||
    err.messages.some((m) => `${m.message ?? ''} ${m.relatedProperties.join(' ')} ${m.messageArgs.join(' ')}`.toLowerCase().includes(w))
  );
}

/** Statuses that mean "this way of inserting is not available here": go on down the chain. */
function notThisWay(err: unknown): boolean {
  return isRedfishError(err, 'RB_REDFISH_HTTP') && (err.status === 400 || err.status === 404 || err.status === 405 || err.status === 501);
}

async function insertIntoSlot(ctx: Discovery, slot: VirtualMediaSlot, image: string, url: URL, opts: InsertMediaOptions): Promise<MediaResult['method']> {
  const failures: unknown[] = [];
  if (slot.insertTarget !== undefined) {
    const proto = transferProtocol(url);
    const attempts: { method: MediaResult['method']; extra: JsonObject }[] = [];
    if (proto !== undefined) attempts.push({ method: 'InsertMedia', extra: { TransferProtocolType: proto } });
    attempts.push({ method: proto === undefined ? 'InsertMedia' : 'InsertMedia-without-protocol', extra: {} });
    for (let i = 0; i < attempts.length; i++) {
      const a = attempts[i]!;
      try {
        await ctx.client.post(slot.insertTarget, insertBody(ctx, image, opts, a.extra));
        return a.method;
      } catch (err) {
        if (!notThisWay(err)) throw err;
        failures.push(err);
        ctx.client.logger.info(`redfish: InsertMedia on ${slot.id} refused (${err instanceof Error ? err.message : String(err)})`);
        if (mentions(err, 'TransferMethod') && !attempts.some((x) => 'TransferMethod' in x.extra)) {
          attempts.push({ method: 'InsertMedia-with-TransferMethod', extra: { ...(proto === undefined ? {} : { TransferProtocolType: proto }), TransferMethod: 'Stream' } });
        }
        if (isRedfishError(err) && err.status === 400 && mentions(err, 'TransferProtocolType') && a.method !== 'InsertMedia' && proto !== undefined) {
          // The BMC insists on the protocol it just refused; the other bodies cannot help.
          break;
        }
      }
    }
  }
  const patch = async (): Promise<MediaResult['method'] | undefined> => {
    try {
      const fresh = await readSlot(ctx, slot.path);
      await ctx.client.patch(
        slot.path,
        { Image: image, Inserted: opts.inserted ?? true, WriteProtected: opts.writeProtected ?? true },
        { requireIfMatch: ctx.strategy.requireIfMatch, ...(fresh.etag === undefined ? {} : { etag: fresh.etag }) },
      );
      return 'PATCH';
    } catch (err) {
      if (!notThisWay(err)) throw err;
      failures.push(err);
      return undefined;
    }
  };
  const oem = async (): Promise<MediaResult['method'] | undefined> => {
    try {
      return (await ctx.strategy.oemInsert?.(ctx, slot, image)) ? 'HpeOem' : undefined;
    } catch (err) {
      if (!notThisWay(err)) throw err;
      failures.push(err);
      return undefined;
    }
  };
  const order = ctx.strategy.preferOemInsert ? [oem, patch] : [patch, oem];
  for (const step of order) {
    const m = await step();
    if (m !== undefined) return m;
  }
  const first = failures.find((f): f is RedfishError => f instanceof RedfishError);
  if (first !== undefined) {
    const all = failures.filter((f): f is RedfishError => f instanceof RedfishError).map((f) => f.message);
    throw new RedfishError(first.code, `could not insert ${image} into slot ${slot.id}: ${all.join(' | ')}`, {
      ...(first.status === undefined ? {} : { status: first.status }),
      path: slot.path,
      messages: first.messages,
    });
  }
  throw new RedfishError('RB_REDFISH_UNSUPPORTED', `slot ${slot.id} offers no way to insert media`, { path: slot.path });
}

function imageMatches(slot: VirtualMediaSlot, image: string): boolean {
  if (slot.image === image) return true;
  // Some BMCs report only the file name, or re-encode the URL.
  const name = lastSegment(new URL(image).pathname);
  return slot.imageName === name || (slot.image !== undefined && decodeURI(slot.image) === decodeURI(image));
}

export async function insertMedia(ctx: Discovery, image: string, opts: InsertMediaOptions = {}): Promise<MediaResult> {
  let url: URL;
  try {
    url = new URL(image);
  } catch {
    throw new RedfishError('RB_REDFISH_INVALID_ARGUMENT', `not an image URL: ${image}`);
  }
  ctx.strategy.checkImageUrl(url, ctx);
  let slot = await chooseSlot(ctx, opts.slot ?? 'cd');
  const proto = transferProtocol(url);
  if (slot.insertProtocols !== undefined && proto !== undefined && !slot.insertProtocols.includes(proto)) {
    throw new RedfishError('RB_REDFISH_UNSUPPORTED', `slot ${slot.id} mounts ${slot.insertProtocols.join('/')} images, not ${proto}`);
  }
  let ejectedFirst = false;
  if (holdsMedia(slot)) {
    if (slot.inserted && slot.image === image && (opts.inserted ?? true)) {
      ctx.client.logger.info(`redfish: ${image} is already in slot ${slot.id}; ejecting to re-insert it cleanly`);
    }
    await ejectSlot(ctx, slot);
    ejectedFirst = true;
    slot = await readSlot(ctx, slot.path);
  }
  const method = await insertIntoSlot(ctx, slot, image, url, opts);
  await ctx.strategy.afterInsert?.(ctx, slot, opts);
  // Read back; give a slow BMC a couple of polls before calling it a failure.
  let after = await readSlot(ctx, slot.path);
  for (let i = 0; i < 2 && !(after.inserted && imageMatches(after, image)) && (opts.inserted ?? true); i++) {
    await ctx.client.sleep(1000);
    after = await readSlot(ctx, slot.path);
  }
  if ((opts.inserted ?? true) && !(after.inserted && imageMatches(after, image))) {
    throw new RedfishError(
      'RB_REDFISH_MEDIA_NOT_APPLIED',
      `slot ${slot.id} accepted ${image} (${method}) but reads back Inserted=${String(after.inserted)} Image=${after.image ?? 'none'}`,
      { path: slot.path },
    );
  }
  return { slot: { id: slot.id, path: slot.path }, image, method, ejectedFirst };
}

/** Ejects the chosen slot, or every usable CD slot holding media when no slot is given. */
export async function ejectMedia(ctx: Discovery, opts: { slot?: MediaSlotChoice } = {}): Promise<MediaResult[]> {
  if (opts.slot !== undefined) {
    const slot = await chooseSlot(ctx, opts.slot);
    return [{ slot: { id: slot.id, path: slot.path }, method: await ejectSlot(ctx, slot) }];
  }
  const slots = (await listSlots(ctx)).filter((s) => isCdSlot(s) && ctx.strategy.usableSlot(s, ctx));
  const out: MediaResult[] = [];
  for (const s of slots) out.push({ slot: { id: s.id, path: s.path }, ...(s.image === undefined ? {} : { image: s.image }), method: await ejectSlot(ctx, s) });
  return out;
}
