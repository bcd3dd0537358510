// VirtualMedia: one slot of the BMC's virtual CD/USB. Slots live under the System (Redfish 2020+,
// iDRAC9 >= 6.00.02, XCC2/3, sushy-tools) or the Manager (iLO 5, iDRAC9 < 6, XCC1, Supermicro,
// OpenBMC). The operations module reads both collections; this file only parses one slot.

import { allowable, bool, get, isRecord, odataId, strings, text, type JsonObject } from '../json.js';

export interface VirtualMediaSlot {
  path: string;
  id: string;
  name?: string;
  /** `CD`, `DVD`, `Floppy`, `USBStick`... */
  mediaTypes: string[];
  image?: string;
  imageName?: string;
  inserted: boolean;
  writeProtected?: boolean;
  /** `NotConnected` | `URI` | `Applet` | `Oem`. */
  connectedVia?: string;
  transferProtocolType?: string;
  /** Standard `#VirtualMedia.InsertMedia` target. */
  insertTarget?: string;
  ejectTarget?: string;
  /** `TransferProtocolType@Redfish.AllowableValues` on the InsertMedia action (iDRAC lists CIFS/HTTP/HTTPS/NFS). */
  insertProtocols?: string[];
  /** HPE iLO `Oem.Hpe.Actions` (the only insert on iLO 5 VirtualMedia.v1_0_0). */
  hpe?: { insertTarget?: string; ejectTarget?: string; bootOnNextServerReset?: boolean };
  /** OpenBMC proxy-mode slot (NBD over a websocket): cannot mount a URL. */
  openbmcProxy: boolean;
  etag?: string;
  raw: JsonObject;
}

export function parseVirtualMedia(body: unknown, path: string, etag?: string): VirtualMediaSlot {
  const raw = isRecord(body) ? body : {};
  const slot: VirtualMediaSlot = {
    path: odataId(raw) ?? path,
    id: text(raw['Id']) ?? path.split('/').filter(Boolean).pop() ?? path,
    mediaTypes: strings(raw['MediaTypes']),
    inserted: bool(raw['Inserted']) ?? false,
    openbmcProxy: false,
    raw,
  };
  const name = text(raw['Name']);
  if (name !== undefined) slot.name = name;
  const image = text(raw['Image']);
  if (image !== undefined) slot.image = image;
  const imageName = text(raw['ImageName']);
  if (imageName !== undefined) slot.imageName = imageName;
  const wp = bool(raw['WriteProtected']);
  if (wp !== undefined) slot.writeProtected = wp;
  const cv = text(raw['ConnectedVia']);
  if (cv !== undefined) slot.connectedVia = cv;
  const tpt = text(raw['TransferProtocolType']);
  if (tpt !== undefined) slot.transferProtocolType = tpt;

  const actions = raw['Actions'];
  const insert = get(actions, '#VirtualMedia.InsertMedia');
  const it = text(get(insert, 'target'));
  if (it !== undefined) slot.insertTarget = it;
  const protos = allowable(insert, 'TransferProtocolType');
  if (protos !== undefined) slot.insertProtocols = protos;
  const et = text(get(actions, '#VirtualMedia.EjectMedia', 'target'));
  if (et !== undefined) slot.ejectTarget = et;

  const hpe = get(raw, 'Oem', 'Hpe');
  if (isRecord(hpe)) {
    const h: NonNullable<VirtualMediaSlot['hpe']> = {};
    const hi = text(get(hpe, 'Actions', '#HpeiLOVirtualMedia.InsertVirtualMedia', 'target'));
    if (hi !== undefined) h.insertTarget = hi;
    const he = text(get(hpe, 'Actions', '#HpeiLOVirtualMedia.EjectVirtualMedia', 'target'));
    if (he !== undefined) h.ejectTarget = he;
    const bn = bool(hpe['BootOnNextServerReset']);
    if (bn !== undefined) h.bootOnNextServerReset = bn;
    if (Object.keys(h).length > 0) slot.hpe = h;
  }
  // bmcweb marks proxy slots with Oem.OpenBMC.WebSocketEndpoint and TransferProtocolType OEM, and
  // gives them no InsertMedia action (redfish-core/lib/virtual_media.hpp).
  const ob = get(raw, 'Oem', 'OpenBMC');
  slot.openbmcProxy = isRecord(ob) && slot.insertTarget === undefined && (text(ob['WebSocketEndpoint']) !== undefined || slot.transferProtocolType === 'OEM');
  if (etag !== undefined) slot.etag = etag;
  return slot;
}

/** True when the slot can carry an ISO image (CD or DVD media). */
export function isCdSlot(s: VirtualMediaSlot): boolean {
  return s.mediaTypes.some((t) => t === 'CD' || t === 'DVD');
}
