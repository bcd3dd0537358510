// Option codes and typed accessors/builders. Accessors never throw on client data: a value of
// the wrong shape reads as null (or an empty list). Builders throw only on programmer error.
import { formatIp, parseIp, type DhcpPacket } from './packet.js';

export const Opt = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DomainServer: 6,
  HostName: 12,
  DomainName: 15,
  Broadcast: 28,
  NtpServers: 42,
  VendorSpecific: 43,
  RequestedIp: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParamList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClass: 60,
  ClientId: 61,
  TftpServerName: 66,
  BootFileName: 67,
  UserClass: 77,
  RelayAgentInfo: 82,
  ClientArch: 93,
  ClientNdi: 94,
  ClientGuid: 97,
  DomainSearch: 119,
  Ipxe: 175,
  End: 255,
} as const;

export const MsgType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;

/** Option 53 when it is one byte in 1..8. */
export function messageType(p: DhcpPacket): number | null {
  const v = p.options.get(Opt.MessageType);
  if (!v || v.length !== 1) return null;
  const t = v.readUInt8(0);
  return t >= 1 && t <= 8 ? t : null;
}

export function ipOpt(p: DhcpPacket, code: number): string | null {
  const v = p.options.get(code);
  return v && v.length === 4 ? formatIp(v) : null;
}

export function u16Opt(p: DhcpPacket, code: number): number | null {
  const v = p.options.get(code);
  return v && v.length === 2 ? v.readUInt16BE(0) : null;
}

export function u32Opt(p: DhcpPacket, code: number): number | null {
  const v = p.options.get(code);
  return v && v.length === 4 ? v.readUInt32BE(0) : null;
}

/** latin1 so every byte maps to one character; trailing NULs trimmed (some clients count the terminator). */
export function stringOpt(p: DhcpPacket, code: number): string | null {
  const v = p.options.get(code);
  if (!v) return null;
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return v.toString('latin1', 0, end);
}

export function paramList(p: DhcpPacket): number[] {
  const v = p.options.get(Opt.ParamList);
  return v ? Array.from(v) : [];
}

export function vendorClass(p: DhcpPacket): string | null {
  return stringOpt(p, Opt.VendorClass);
}

const isPrintable = (b: Buffer): boolean => b.every((c) => c >= 0x20 && c <= 0x7e);

/** RFC 3004 length-prefixed items, or null if the bytes do not parse exactly as that. */
function rfc3004Items(v: Buffer): string[] | null {
  const items: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v.readUInt8(i);
    const item = v.subarray(i + 1, i + 1 + len);
    if (len === 0 || item.length !== len || !isPrintable(item)) return null;
    items.push(item.toString('latin1'));
    i += 1 + len;
  }
  return items.length > 0 ? items : null;
}

/** Option 77. iPXE sends a raw string ('iPXE'), RFC 3004 clients a length-prefixed list: accept both. */
export function userClasses(p: DhcpPacket): string[] {
  const v = p.options.get(Opt.UserClass);
  if (!v || v.length === 0) return [];
  const items = rfc3004Items(v);
  if (items) return items;
  const raw = stringOpt(p, Opt.UserClass) ?? '';
  return raw === '' ? [] : [raw];
}

/** Option 93: a list of uint16 architecture types. */
export function clientArchs(p: DhcpPacket): number[] {
  const v = p.options.get(Opt.ClientArch);
  if (!v || v.length % 2 !== 0) return [];
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 2) out.push(v.readUInt16BE(i));
  return out;
}

/** Fallback arch from 'PXEClient:Arch:00007:…' / 'HTTPClient:Arch:00016:…' when option 93 is unusable. */
export function archFromVendorClass(vc: string | null): number | null {
  if (vc === null) return null;
  const m = /^(?:PXEClient|HTTPClient):Arch:(\d{5})(?::|$)/.exec(vc);
  if (!m) return null;
  const n = Number(m[1]);
  return n <= 0xffff ? n : null;
}

export function clientNdi(p: DhcpPacket): { type: number; major: number; minor: number } | null {
  const v = p.options.get(Opt.ClientNdi);
  if (!v || v.length !== 3) return null;
  return { type: v.readUInt8(0), major: v.readUInt8(1), minor: v.readUInt8(2) };
}

/** Option 97: type 0 followed by the 16-byte GUID (byte order as sent; not normalised here). */
export function clientGuid(p: DhcpPacket): Buffer | null {
  const v = p.options.get(Opt.ClientGuid);
  if (!v || v.length !== 17 || v[0] !== 0) return null;
  return Buffer.from(v.subarray(1));
}

/** Generic encapsulated TLV parse (43, 82, 175): pad 0 is one byte, 255 ends, repeats concatenate. */
export function subOptions(value: Buffer): Map<number, Buffer> | null {
  if (!Buffer.isBuffer(value)) return null;
  const chunks = new Map<number, Buffer[]>();
  let i = 0;
  while (i < value.length) {
    const code = value.readUInt8(i);
    if (code === Opt.Pad) {
      i += 1;
      continue;
    }
    if (code === Opt.End) break;
    if (i + 1 >= value.length) return null;
    const len = value.readUInt8(i + 1);
    if (i + 2 + len > value.length) return null;
    const part = value.subarray(i + 2, i + 2 + len);
    const list = chunks.get(code);
    if (list) list.push(part);
    else chunks.set(code, [part]);
    i += 2 + len;
  }
  const out = new Map<number, Buffer>();
  for (const [code, list] of chunks) out.set(code, Buffer.concat(list));
  return out;
}

/** TLV-encodes sub-options in order; values over 255 bytes are split (RFC 3396). Throws on a bad code. */
export function encodeSubOptions(subs: Map<number, Buffer> | Array<[number, Buffer]>, opts?: { end?: boolean }): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of subs) {
    if (!Number.isInteger(code) || code < 1 || code > 254) throw new RangeError(`bad sub-option code ${code}`);
    let off = 0;
    do {
      const part = value.subarray(off, off + 255);
      parts.push(Buffer.from([code, part.length]), part);
      off += 255;
    } while (off < value.length);
  }
  if (opts?.end) parts.push(Buffer.from([Opt.End]));
  return Buffer.concat(parts);
}

export interface RelayAgentInfo {
  circuitId: Buffer | null;
  remoteId: Buffer | null;
  subscriberId: Buffer | null;
  raw: Buffer;
}

/** Option 82 (RFC 3046 sub-options 1 and 2, RFC 3993 sub-option 6); null when absent or malformed. */
export function relayAgentInfo(p: DhcpPacket): RelayAgentInfo | null {
  const v = p.options.get(Opt.RelayAgentInfo);
  if (!v) return null;
  const subs = subOptions(v);
  if (!subs) return null;
  return {
    circuitId: subs.get(1) ?? null,
    remoteId: subs.get(2) ?? null,
    subscriberId: subs.get(6) ?? null,
    raw: Buffer.from(v), // a copy, so a reply can echo it while the request is reused
  };
}

export function ipBytes(ip: string): Buffer {
  const b = parseIp(ip);
  if (!b) throw new TypeError(`not an IPv4 dotted quad: ${String(ip)}`);
  return b;
}

export function ipListBytes(ips: string[]): Buffer {
  return Buffer.concat(ips.map(ipBytes));
}

export function u32Bytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0); // throws RangeError outside 0..2^32-1
  return b;
}

export function u16Bytes(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/** iPXE marks itself with option 175, or with user class 'iPXE' when built without it. */
export function isIpxe(p: DhcpPacket): boolean {
  return p.options.has(Opt.Ipxe) || userClasses(p).includes('iPXE');
}
