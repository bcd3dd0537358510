import { describe, expect, it } from 'vitest';
import { decodePacket, emptyReply, encodePacket, type DhcpPacket } from '../../server/dhcp/packet.js';
import {
  MsgType,
  Opt,
  archFromVendorClass,
  clientArchs,
  clientGuid,
  clientNdi,
  encodeSubOptions,
  ipBytes,
  ipListBytes,
  ipOpt,
  isIpxe,
  messageType,
  paramList,
  relayAgentInfo,
  stringOpt,
  subOptions,
  u16Bytes,
  u16Opt,
  u32Bytes,
  u32Opt,
  userClasses,
  vendorClass,
} from '../../server/dhcp/options.js';
import {
  GUID,
  IPXE_FEATURES,
  SWITCH_MAC,
  edk2HttpDiscover,
  edk2PxeDiscover,
  rawPacket,
  relayedDiscover,
  seabiosIpxeDiscover,
  udhcpcDiscover,
  udhcpcRequest,
  type OptionSpec,
} from '../fixtures/dhcp/synthetic.js';

function decoded(buf: Buffer): DhcpPacket {
  const r = decodePacket(buf);
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.packet;
}

const withOptions = (options: OptionSpec[]): DhcpPacket => decoded(rawPacket({ options }));

describe('constants', () => {
  it('match the IANA option and message type numbers', () => {
    expect([Opt.Pad, Opt.SubnetMask, Opt.Router, Opt.DomainServer, Opt.HostName, Opt.DomainName]).toEqual([0, 1, 3, 6, 12, 15]);
    expect([Opt.Broadcast, Opt.NtpServers, Opt.VendorSpecific, Opt.RequestedIp, Opt.LeaseTime, Opt.Overload]).toEqual([28, 42, 43, 50, 51, 52]);
    expect([Opt.MessageType, Opt.ServerId, Opt.ParamList, Opt.Message, Opt.MaxMessageSize]).toEqual([53, 54, 55, 56, 57]);
    expect([Opt.RenewalTime, Opt.RebindingTime, Opt.VendorClass, Opt.ClientId, Opt.TftpServerName, Opt.BootFileName]).toEqual([58, 59, 60, 61, 66, 67]);
    expect([Opt.UserClass, Opt.RelayAgentInfo, Opt.ClientArch, Opt.ClientNdi, Opt.ClientGuid]).toEqual([77, 82, 93, 94, 97]);
    expect([Opt.DomainSearch, Opt.Ipxe, Opt.End]).toEqual([119, 175, 255]);
    expect(Object.values(MsgType)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([MsgType.Discover, MsgType.Request, MsgType.Ack, MsgType.Inform]).toEqual([1, 3, 5, 8]);
  });
});

describe('accessors on realistic requests', () => {
  it('SeaBIOS iPXE DISCOVER', () => {
    const p = decoded(seabiosIpxeDiscover());
    expect(messageType(p)).toBe(MsgType.Discover);
    expect(u16Opt(p, Opt.MaxMessageSize)).toBe(1472);
    expect(vendorClass(p)).toBe('PXEClient:Arch:00000:UNDI:002001');
    expect(archFromVendorClass(vendorClass(p))).toBe(0);
    expect(clientArchs(p)).toEqual([0]);
    expect(clientNdi(p)).toEqual({ type: 1, major: 2, minor: 1 });
    expect(userClasses(p)).toEqual(['iPXE']);
    expect(isIpxe(p)).toBe(true);
    expect(paramList(p)).toEqual([1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]);
    expect(clientGuid(p)).toEqual(GUID);
    expect(relayAgentInfo(p)).toBeNull();
    const features = subOptions(p.options.get(Opt.Ipxe) ?? Buffer.alloc(0));
    expect(features && [...features.keys()]).toEqual([0x13, 0x14, 0x15, 0x17, 0x18, 0x21, 0xeb]);
    expect(features?.get(0x13)).toEqual(Buffer.from([1]));
    expect(features?.get(0xeb)).toEqual(Buffer.from([1, 21, 1]));
    expect(encodeSubOptions(features ?? new Map())).toEqual(Buffer.from(IPXE_FEATURES));
  });

  it('EDK2 PXE DISCOVER', () => {
    const p = decoded(edk2PxeDiscover());
    expect(messageType(p)).toBe(MsgType.Discover);
    expect(vendorClass(p)).toBe('PXEClient:Arch:00007:UNDI:003000');
    expect(archFromVendorClass(vendorClass(p))).toBe(7);
    expect(clientArchs(p)).toEqual([7]);
    expect(clientNdi(p)).toEqual({ type: 1, major: 3, minor: 0 });
    expect(clientGuid(p)?.toString('hex')).toBe('8b1c4e07a2d94f0e9c3b5d6e7f801234');
    expect(userClasses(p)).toEqual([]);
    expect(isIpxe(p)).toBe(false);
    expect(paramList(p)).toContain(Opt.BootFileName);
    expect(paramList(p)).toHaveLength(35);
  });

  it('EDK2 HTTP Boot DISCOVER', () => {
    const p = decoded(edk2HttpDiscover());
    expect(vendorClass(p)).toBe('HTTPClient:Arch:00016:UNDI:003000');
    expect(archFromVendorClass(vendorClass(p))).toBe(16);
    expect(clientArchs(p)).toEqual([16]);
    expect(clientNdi(p)).toEqual({ type: 1, major: 3, minor: 0 });
    expect(isIpxe(p)).toBe(false);
  });

  it('udhcpc DISCOVER and REQUEST', () => {
    const d = decoded(udhcpcDiscover());
    expect(messageType(d)).toBe(MsgType.Discover);
    expect(stringOpt(d, Opt.HostName)).toBe('worker-01');
    expect(u16Opt(d, Opt.MaxMessageSize)).toBe(576);
    expect(vendorClass(d)).toBe('udhcp 1.36.1');
    expect(archFromVendorClass(vendorClass(d))).toBeNull();
    expect(clientArchs(d)).toEqual([]);
    expect(clientNdi(d)).toBeNull();
    expect(clientGuid(d)).toBeNull();
    expect(userClasses(d)).toEqual([]);
    expect(isIpxe(d)).toBe(false);
    expect(d.options.get(Opt.ClientId)?.toString('hex')).toBe('01' + '0242ac110007');
    const r = decoded(udhcpcRequest());
    expect(messageType(r)).toBe(MsgType.Request);
    expect(ipOpt(r, Opt.RequestedIp)).toBe('192.168.1.50');
    expect(ipOpt(r, Opt.ServerId)).toBe('192.168.1.1');
    expect(ipOpt(r, Opt.Router)).toBeNull();
  });

  it('relayed DISCOVER with option 82', () => {
    const p = decoded(relayedDiscover());
    const rai = relayAgentInfo(p);
    expect(rai?.circuitId?.toString('latin1')).toBe('eth0/1/3');
    expect(rai?.remoteId).toEqual(Buffer.from(SWITCH_MAC));
    expect(rai?.subscriberId).toBeNull();
    expect(rai?.raw).toEqual(p.options.get(Opt.RelayAgentInfo));
    expect(clientArchs(p)).toEqual([7]);
  });
});

describe('scalar accessors', () => {
  it('messageType accepts one byte in 1..8 only', () => {
    expect(messageType(withOptions([[53, [8]]]))).toBe(8);
    expect(messageType(withOptions([[53, [0]]]))).toBeNull();
    expect(messageType(withOptions([[53, [9]]]))).toBeNull();
    expect(messageType(withOptions([[53, [1, 1]]]))).toBeNull();
    expect(messageType(withOptions([[53, []]]))).toBeNull();
    expect(messageType(withOptions([]))).toBeNull();
  });

  it('ipOpt, u16Opt and u32Opt require the exact length', () => {
    const p = withOptions([
      [1, [255, 255, 255, 0]],
      [3, [10, 0, 0, 1, 10]],
      [51, [0, 1, 0x51, 0x80]],
      [57, [0x05, 0xdc]],
      [58, [0, 0, 1]],
      [59, [0xff, 0xff, 0xff, 0xff]],
    ]);
    expect(ipOpt(p, 1)).toBe('255.255.255.0');
    expect(ipOpt(p, 3)).toBeNull();
    expect(u32Opt(p, 51)).toBe(86400);
    expect(u32Opt(p, 59)).toBe(0xffffffff);
    expect(u32Opt(p, 58)).toBeNull();
    expect(u32Opt(p, 57)).toBeNull();
    expect(u16Opt(p, 57)).toBe(1500);
    expect(u16Opt(p, 51)).toBeNull();
    expect(u16Opt(p, 99)).toBeNull();
  });

  it('stringOpt is latin1 with trailing NULs trimmed (inner NULs kept)', () => {
    const p = withOptions([
      [12, 'host\0\0'],
      [15, 'a\0b'],
      [66, [0x74, 0xe9]],
      [67, []],
    ]);
    expect(stringOpt(p, 12)).toBe('host');
    expect(stringOpt(p, 15)).toBe('a\0b');
    expect(stringOpt(p, 66)).toBe('t\u00e9');
    expect(stringOpt(p, 67)).toBe('');
    expect(stringOpt(p, 56)).toBeNull();
  });

  it('paramList is every byte of option 55, or []', () => {
    expect(paramList(withOptions([[55, [1, 3, 255, 0]]]))).toEqual([1, 3, 255, 0]);
    expect(paramList(withOptions([]))).toEqual([]);
  });
});

describe('userClasses', () => {
  it('reads RFC 3004 length-prefixed lists', () => {
    expect(userClasses(withOptions([[77, [4, ...Buffer.from('iPXE'), 5, ...Buffer.from('GRUB2')]]]))).toEqual(['iPXE', 'GRUB2']);
    expect(userClasses(withOptions([[77, [10, ...Buffer.from('Tinkerbell')]]]))).toEqual(['Tinkerbell']);
  });

  it('reads raw strings (iPXE style) as one class', () => {
    expect(userClasses(withOptions([[77, 'iPXE']]))).toEqual(['iPXE']);
    expect(userClasses(withOptions([[77, 'Tinkerbell']]))).toEqual(['Tinkerbell']);
    expect(userClasses(withOptions([[77, 'iPXE\0']]))).toEqual(['iPXE']);
  });

  it('falls back to raw when the length prefixes do not consume the value exactly or items are not printable', () => {
    expect(userClasses(withOptions([[77, [4, ...Buffer.from('iPXE'), 9]]]))).toEqual(['\u0004iPXE\t']);
    expect(userClasses(withOptions([[77, [2, 0x41, 0x01]]]))).toEqual(['\u0002A\u0001']);
    expect(userClasses(withOptions([[77, [3, 0x41, 0x42]]]))).toEqual(['\u0003AB']);
  });

  it('returns [] when absent, empty, or only NULs', () => {
    expect(userClasses(withOptions([]))).toEqual([]);
    expect(userClasses(withOptions([[77, []]]))).toEqual([]);
    expect(userClasses(withOptions([[77, [0]]]))).toEqual([]);
  });

  it('isIpxe: option 175 alone, user class iPXE in either form, but not other classes', () => {
    expect(isIpxe(withOptions([[175, []]]))).toBe(true);
    expect(isIpxe(withOptions([[77, [4, ...Buffer.from('iPXE')]]]))).toBe(true);
    expect(isIpxe(withOptions([[77, 'iPXE']]))).toBe(true);
    expect(isIpxe(withOptions([[77, 'ipxe']]))).toBe(false);
    expect(isIpxe(withOptions([[77, 'GRUB2']]))).toBe(false);
  });
});

describe('PXE identity options', () => {
  it('clientArchs reads a uint16 list and rejects odd lengths', () => {
    expect(clientArchs(withOptions([[93, [0, 7, 0, 9, 0, 0x0b]]]))).toEqual([7, 9, 11]);
    expect(clientArchs(withOptions([[93, [0x01, 0x00]]]))).toEqual([256]);
    expect(clientArchs(withOptions([[93, [0, 7, 0]]]))).toEqual([]);
    expect(clientArchs(withOptions([[93, []]]))).toEqual([]);
  });

  it('archFromVendorClass parses PXEClient and HTTPClient arch fields only', () => {
    expect(archFromVendorClass('PXEClient:Arch:00007:UNDI:003000')).toBe(7);
    expect(archFromVendorClass('PXEClient:Arch:00009:UNDI:003016')).toBe(9);
    expect(archFromVendorClass('HTTPClient:Arch:00016:UNDI:003000')).toBe(16);
    expect(archFromVendorClass('HTTPClient:Arch:00019')).toBe(19);
    expect(archFromVendorClass('PXEClient:Arch:00011:UNDI:003000')).toBe(11);
    expect(archFromVendorClass('PXEClient')).toBeNull();
    expect(archFromVendorClass('PXEClient:Arch:7:UNDI:003000')).toBeNull();
    expect(archFromVendorClass('PXEClient:Arch:000070')).toBeNull();
    expect(archFromVendorClass('PXEClient:Arch:99999')).toBeNull();
    expect(archFromVendorClass('xPXEClient:Arch:00007')).toBeNull();
    expect(archFromVendorClass('udhcp 1.36.1')).toBeNull();
    expect(archFromVendorClass(null)).toBeNull();
  });

  it('clientNdi needs exactly 3 bytes', () => {
    expect(clientNdi(withOptions([[94, [1, 2, 1]]]))).toEqual({ type: 1, major: 2, minor: 1 });
    expect(clientNdi(withOptions([[94, [1, 2]]]))).toBeNull();
    expect(clientNdi(withOptions([[94, [1, 2, 1, 0]]]))).toBeNull();
  });

  it('clientGuid needs 17 bytes with a leading 0 and returns a copy of the 16-byte GUID', () => {
    const p = withOptions([[97, Buffer.concat([Buffer.from([0]), GUID])]]);
    const g = clientGuid(p);
    expect(g).toEqual(GUID);
    g?.fill(0);
    expect(clientGuid(p)).toEqual(GUID);
    expect(clientGuid(withOptions([[97, Buffer.concat([Buffer.from([1]), GUID])]]))).toBeNull();
    expect(clientGuid(withOptions([[97, GUID]]))).toBeNull();
    expect(clientGuid(withOptions([[97, []]]))).toBeNull();
  });
});

describe('sub-options and option 82', () => {
  it('subOptions parses TLVs with one-byte pad, end stop and concatenation of repeats', () => {
    const m = subOptions(Buffer.from([0, 6, 1, 8, 0, 9, 2, 0x41, 0x42, 6, 1, 3, 255, 7, 7]));
    expect(m && [...m].map(([k, v]) => [k, v.toString('hex')])).toEqual([
      [6, '0803'],
      [9, '4142'],
    ]);
    expect(subOptions(Buffer.alloc(0))?.size).toBe(0);
  });

  it('subOptions returns null on overrun or a missing length byte', () => {
    expect(subOptions(Buffer.from([6, 2, 8]))).toBeNull();
    expect(subOptions(Buffer.from([6, 1, 8, 9]))).toBeNull();
  });

  it('encodeSubOptions writes TLVs from a Map or an array, splits long values, and adds end only when asked', () => {
    expect(encodeSubOptions(new Map([[6, Buffer.from([8])]])).toString('hex')).toBe('060108');
    expect(encodeSubOptions([[6, Buffer.from([8])]], { end: true }).toString('hex')).toBe('060108ff');
    expect(encodeSubOptions([[176, Buffer.from([1])], [1, Buffer.alloc(0)]]).toString('hex')).toBe('b001010100');
    const long = Buffer.alloc(300, 0x61);
    const enc = encodeSubOptions([[9, long]]);
    expect(enc.length).toBe(2 + 255 + 2 + 45);
    expect([enc[0], enc[1], enc[257], enc[258]]).toEqual([9, 255, 9, 45]);
    expect(subOptions(enc)?.get(9)).toEqual(long);
    expect(() => encodeSubOptions([[0, Buffer.alloc(1)]])).toThrow(RangeError);
    expect(() => encodeSubOptions([[255, Buffer.alloc(1)]])).toThrow(RangeError);
  });

  it('relayAgentInfo reads circuit, remote and subscriber ids and returns a copy of the raw value', () => {
    const value = [1, 3, ...Buffer.from('p12'), 2, 2, 0xab, 0xcd, 6, 4, ...Buffer.from('sub1'), 9, 1, 0];
    const p = withOptions([[82, value]]);
    const rai = relayAgentInfo(p);
    expect(rai?.circuitId?.toString()).toBe('p12');
    expect(rai?.remoteId?.toString('hex')).toBe('abcd');
    expect(rai?.subscriberId?.toString()).toBe('sub1');
    expect(rai?.raw).toEqual(Buffer.from(value));
    rai?.raw.fill(0);
    expect(p.options.get(82)).toEqual(Buffer.from(value));
  });

  it('relayAgentInfo is null when absent or malformed', () => {
    expect(relayAgentInfo(withOptions([]))).toBeNull();
    expect(relayAgentInfo(withOptions([[82, [1, 5, 0x41]]]))).toBeNull();
    const onlyRemote = relayAgentInfo(withOptions([[82, [2, 1, 7]]]));
    expect(onlyRemote?.circuitId).toBeNull();
    expect(onlyRemote?.remoteId).toEqual(Buffer.from([7]));
  });
});

describe('builders', () => {
  it('ipBytes parses strict dotted quads and throws on invalid literals', () => {
    expect(ipBytes('10.0.0.1')).toEqual(Buffer.from([10, 0, 0, 1]));
    expect(ipBytes('255.255.255.255')).toEqual(Buffer.from([255, 255, 255, 255]));
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '', ' 1.2.3.4', '1.2.3.-1', 'a.b.c.d']) {
      expect(() => ipBytes(bad), bad).toThrow(TypeError);
    }
  });

  it('ipListBytes concatenates', () => {
    expect(ipListBytes(['10.0.0.1', '10.0.0.2']).toString('hex')).toBe('0a0000010a000002');
    expect(ipListBytes([])).toEqual(Buffer.alloc(0));
  });

  it('u32Bytes and u16Bytes are big-endian and throw out of range', () => {
    expect(u32Bytes(3600).toString('hex')).toBe('00000e10');
    expect(u32Bytes(0xffffffff).toString('hex')).toBe('ffffffff');
    expect(u16Bytes(1472).toString('hex')).toBe('05c0');
    expect(() => u32Bytes(-1)).toThrow(RangeError);
    expect(() => u16Bytes(0x10000)).toThrow(RangeError);
  });

  it('build a ProxyDHCP-style PXE offer for the EDK2 client and read it back', () => {
    const req = decoded(edk2PxeDiscover());
    const offer = emptyReply(req);
    offer.siaddr = '10.0.0.1';
    offer.file = 'ipxe.efi';
    offer.options.set(Opt.MessageType, Buffer.from([MsgType.Offer]));
    offer.options.set(Opt.ServerId, ipBytes('10.0.0.1'));
    offer.options.set(Opt.VendorClass, Buffer.from('PXEClient'));
    offer.options.set(Opt.VendorSpecific, encodeSubOptions([[6, Buffer.from([8])]], { end: true }));
    offer.options.set(Opt.ClientGuid, req.options.get(Opt.ClientGuid) ?? Buffer.alloc(0));
    offer.options.set(Opt.LeaseTime, u32Bytes(3600));
    offer.options.set(Opt.DomainServer, ipListBytes(['10.0.0.2', '10.0.0.3']));
    const enc = encodePacket(offer, { maxSize: (u16Opt(req, Opt.MaxMessageSize) ?? 576) - 28 });
    expect(enc.ok).toBe(true);
    if (!enc.ok) return;
    const back = decoded(enc.data);
    expect(back.op).toBe(2);
    expect(back.xid).toBe(req.xid);
    expect(back.yiaddr).toBe('0.0.0.0');
    expect(back.siaddr).toBe('10.0.0.1');
    expect(back.file).toBe('ipxe.efi');
    expect(messageType(back)).toBe(MsgType.Offer);
    expect(ipOpt(back, Opt.ServerId)).toBe('10.0.0.1');
    expect(vendorClass(back)).toBe('PXEClient');
    expect(subOptions(back.options.get(Opt.VendorSpecific) ?? Buffer.alloc(0))?.get(6)).toEqual(Buffer.from([8]));
    expect(clientGuid(back)).toEqual(GUID);
    expect(u32Opt(back, Opt.LeaseTime)).toBe(3600);
    expect(back.options.get(Opt.DomainServer)?.toString('hex')).toBe('0a0000020a000003');
  });
});
