import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  clientMac,
  decodePacket,
  emptyReply,
  encodePacket,
  type DhcpPacket,
} from '../../server/dhcp/packet.js';
import {
  GUID,
  MAC_A,
  MAC_D,
  edk2PxeDiscover,
  rawPacket,
  relayedDiscover,
  seabiosIpxeDiscover,
  tlvs,
  udhcpcDiscover,
  type RawSpec,
} from '../fixtures/dhcp/synthetic.js';

function decoded(buf: Buffer): DhcpPacket {
  const r = decodePacket(buf);
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.packet;
}

function rejected(buf: Buffer): string {
  const r = decodePacket(buf);
  if (r.ok) throw new Error('expected a rejection');
  expect(r.reason.length).toBeGreaterThan(0);
  return r.reason;
}

function encoded(p: DhcpPacket, opts?: { maxSize?: number }): Buffer {
  const r = encodePacket(p, opts);
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.data;
}

const hexOf = (m: Map<number, Buffer>): Array<[number, string]> => [...m].map(([k, v]) => [k, v.toString('hex')]);
const sortedHex = (m: Map<number, Buffer>): Array<[number, string]> => hexOf(m).sort((a, b) => a[0] - b[0]);

/** Walks the TLVs of an options area as written on the wire, without merging. */
function wireTlvs(buf: Buffer, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let i = start;
  while (i < end && buf[i] !== 255) {
    if (buf[i] === 0) {
      i++;
      continue;
    }
    out.push([buf[i]!, buf[i + 1]!]);
    i += 2 + buf[i + 1]!;
  }
  return out;
}

/** Value of the first wire instance of `code` in an options area. */
function tlvValue(buf: Buffer, start: number, end: number, code: number): Buffer | null {
  let i = start;
  while (i < end && buf[i] !== 255) {
    if (buf[i] === 0) {
      i++;
      continue;
    }
    if (buf[i] === code) return buf.subarray(i + 2, i + 2 + buf[i + 1]!);
    i += 2 + buf[i + 1]!;
  }
  return null;
}

function reply(): DhcpPacket {
  const p = emptyReply(decoded(edk2PxeDiscover()));
  p.yiaddr = '10.0.0.50';
  p.siaddr = '10.0.0.1';
  p.file = 'ipxe.efi';
  p.options.set(53, Buffer.from([2]));
  p.options.set(54, Buffer.from([10, 0, 0, 1]));
  p.options.set(51, Buffer.from([0, 0, 0x0e, 0x10]));
  p.options.set(60, Buffer.from('PXEClient'));
  return p;
}

describe('decodePacket: realistic requests', () => {
  it('decodes the SeaBIOS iPXE DISCOVER header and options in wire order', () => {
    const p = decoded(seabiosIpxeDiscover());
    expect(p).toMatchObject({ op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x3903f326, secs: 3, flags: 0 });
    expect([p.ciaddr, p.yiaddr, p.siaddr, p.giaddr]).toEqual(['0.0.0.0', '0.0.0.0', '0.0.0.0', '0.0.0.0']);
    expect(p.chaddr).toEqual(Buffer.concat([Buffer.from(MAC_A), Buffer.alloc(10)]));
    expect(p.sname).toBe('');
    expect(p.file).toBe('');
    expect([...p.options.keys()]).toEqual([53, 57, 93, 94, 60, 77, 55, 175, 61, 97]);
    expect(p.options.get(77)?.toString('latin1')).toBe('iPXE');
    expect(p.options.get(97)).toEqual(Buffer.concat([Buffer.from([0]), GUID]));
  });

  it('keeps the broadcast flag and secs of an EDK2 DISCOVER', () => {
    const p = decoded(edk2PxeDiscover());
    expect(p.flags).toBe(0x8000);
    expect(p.secs).toBe(4);
    expect(p.xid).toBe(0xa1b2c3d4);
  });

  it('decodes a relayed packet: hops, giaddr and option 82 bytes', () => {
    const p = decoded(relayedDiscover());
    expect(p.hops).toBe(1);
    expect(p.giaddr).toBe('10.20.0.1');
    expect(p.options.get(82)?.subarray(2, 10).toString('latin1')).toBe('eth0/1/3');
    expect(clientMac(p)).toBe('0c:c4:7a:9e:01:f2');
  });

  it('reads all four address fields as dotted quads', () => {
    const p = decoded(
      rawPacket({ op: 2, ciaddr: [1, 2, 3, 4], yiaddr: [10, 0, 0, 50], siaddr: [192, 168, 255, 254], giaddr: [172, 16, 0, 1] }),
    );
    expect([p.ciaddr, p.yiaddr, p.siaddr, p.giaddr]).toEqual(['1.2.3.4', '10.0.0.50', '192.168.255.254', '172.16.0.1']);
    expect(p.op).toBe(2);
  });

  it('decodes a packet padded with zeros after the end option (udhcpc)', () => {
    const buf = udhcpcDiscover();
    expect(buf.length).toBe(300);
    expect([...decoded(buf).options.keys()]).toEqual([53, 61, 57, 12, 60, 55]);
  });
});

describe('decodePacket: option area rules', () => {
  it('treats pad as exactly one byte (a leading pad must not swallow the next option)', () => {
    const p = decoded(rawPacket({ optionBytes: [0, 53, 1, 1, 0, 0, 12, 2, 0x68, 0x69, 255] }));
    expect(hexOf(p.options)).toEqual([
      [53, '01'],
      [12, '6869'],
    ]);
  });

  it('stops at end and ignores whatever follows', () => {
    const p = decoded(rawPacket({ optionBytes: [53, 1, 3, 255, 12, 200, 1, 2] }));
    expect(hexOf(p.options)).toEqual([[53, '03']]);
  });

  it('tolerates a missing end option', () => {
    const p = decoded(rawPacket({ options: [[53, [1]]], end: false }));
    expect(hexOf(p.options)).toEqual([[53, '01']]);
  });

  it('concatenates repeated option codes in order, keeping first-seen order (RFC 3396)', () => {
    const p = decoded(rawPacket({ options: [[12, 'abc'], [53, [1]], [12, 'de'], [12, 'f']] }));
    expect([...p.options.keys()]).toEqual([12, 53]);
    expect(p.options.get(12)?.toString()).toBe('abcdef');
  });

  it('stores a zero-length option as an empty Buffer', () => {
    const p = decoded(rawPacket({ options: [[80, []], [53, [1]]] }));
    expect(p.options.get(80)).toEqual(Buffer.alloc(0));
    expect(p.options.size).toBe(2);
  });

  it('returns option values that do not alias the input', () => {
    const buf = rawPacket({ options: [[12, 'host']] });
    const p = decoded(buf);
    buf.fill(0x41, 240);
    buf.fill(0x42, 28, 44);
    expect(p.options.get(12)?.toString()).toBe('host');
    expect(p.chaddr.subarray(0, 6)).toEqual(Buffer.from(MAC_A));
  });

  it('reads sname and file as latin1 cut at the first NUL', () => {
    const sname = Buffer.concat([Buffer.from('boot-srv\u00e9', 'latin1'), Buffer.from([0, 0x41, 0x42])]);
    const file = Buffer.from('pxelinux.0\0junk', 'latin1');
    const p = decoded(rawPacket({ op: 2, sname, file }));
    expect(p.sname).toBe('boot-srv\u00e9');
    expect(p.file).toBe('pxelinux.0');
  });

  it('reads a full 64-byte sname with no NUL', () => {
    const p = decoded(rawPacket({ sname: Buffer.alloc(64, 0x61) }));
    expect(p.sname).toBe('a'.repeat(64));
  });
});

describe('decodePacket: option overload (52)', () => {
  const fileOpts = (opts: Parameters<typeof tlvs>[0]): Buffer => Buffer.concat([tlvs(opts), Buffer.from([255])]);

  it('parses options from file and sname (value 3), concatenating options, file, sname in that order', () => {
    const p = decoded(
      rawPacket({
        options: [[52, [3]], [53, [2]], [43, 'ab']],
        file: fileOpts([[43, 'cd'], [67, 'x.efi']]),
        sname: fileOpts([[43, 'e'], [66, 'tftp']]),
      }),
    );
    expect(p.sname).toBe('');
    expect(p.file).toBe('');
    expect(p.options.has(52)).toBe(false);
    expect([...p.options.keys()]).toEqual([53, 43, 67, 66]);
    expect(p.options.get(43)?.toString()).toBe('abcde');
    expect(p.options.get(67)?.toString()).toBe('x.efi');
    expect(p.options.get(66)?.toString()).toBe('tftp');
  });

  it('value 1 overloads only file; sname stays a string', () => {
    const p = decoded(
      rawPacket({ options: [[53, [2]], [52, [1]]], file: fileOpts([[67, 'undionly.kpxe']]), sname: Buffer.from('srv1') }),
    );
    expect(p.file).toBe('');
    expect(p.sname).toBe('srv1');
    expect(p.options.get(67)?.toString()).toBe('undionly.kpxe');
  });

  it('value 2 overloads only sname; file stays a string', () => {
    const p = decoded(
      rawPacket({ options: [[52, [2]]], sname: fileOpts([[66, '10.0.0.1']]), file: Buffer.from('ipxe.efi') }),
    );
    expect(p.sname).toBe('');
    expect(p.file).toBe('ipxe.efi');
    expect(p.options.get(66)?.toString()).toBe('10.0.0.1');
  });

  it('accepts an overloaded field with no end option (rest zero = pad)', () => {
    const p = decoded(rawPacket({ options: [[52, [1]]], file: tlvs([[67, 'a.efi']]) }));
    expect(p.options.get(67)?.toString()).toBe('a.efi');
  });

  it('rejects an option that runs past the end of the file field', () => {
    const file = Buffer.alloc(128);
    file[120] = 67;
    file[121] = 20;
    expect(rejected(rawPacket({ options: [[52, [1]]], file }))).toMatch(/file/);
  });

  it('rejects overload values other than 1, 2, 3 and a wrong length', () => {
    expect(rejected(rawPacket({ options: [[52, [0]]] }))).toMatch(/overload/);
    expect(rejected(rawPacket({ options: [[52, [4]]] }))).toMatch(/overload/);
    expect(rejected(rawPacket({ options: [[52, [1, 1]]] }))).toMatch(/overload/);
  });

  it('without option 52, option-like bytes in file are just a file name', () => {
    const p = decoded(rawPacket({ file: Buffer.from('C\u0005hello', 'latin1') }));
    expect(p.file).toBe('C\u0005hello');
    expect(p.options.size).toBe(0);
  });
});

describe('decodePacket: rejections', () => {
  const good: RawSpec = { options: [[53, [1]]] };

  it('rejects short buffers, including an empty one and 239 bytes', () => {
    expect(rejected(Buffer.alloc(0))).toMatch(/short/);
    expect(rejected(rawPacket(good).subarray(0, 239))).toMatch(/short/);
    expect(decodePacket(rawPacket(good).subarray(0, 240)).ok).toBe(true);
  });

  it('rejects a wrong magic cookie', () => {
    expect(rejected(rawPacket({ ...good, cookie: 0x63825364 }))).toMatch(/cookie/);
  });

  it('rejects hlen 17 and accepts hlen 16', () => {
    expect(rejected(rawPacket({ ...good, hlen: 17 }))).toMatch(/hlen/);
    expect(decoded(rawPacket({ ...good, htype: 32, hlen: 16 })).hlen).toBe(16);
  });

  it('rejects op other than 1 and 2', () => {
    expect(rejected(rawPacket({ ...good, op: 0 }))).toMatch(/op/);
    expect(rejected(rawPacket({ ...good, op: 3 }))).toMatch(/op/);
  });

  it('rejects an option whose length runs past the buffer', () => {
    expect(rejected(rawPacket({ optionBytes: [53, 1, 1, 12, 10, 0x61, 0x62] }))).toMatch(/option 12 .*past the end/);
  });

  it('rejects an option code with no length byte at the very end', () => {
    expect(rejected(rawPacket({ optionBytes: [53, 1, 1, 12] }))).toMatch(/option 12 .*no length/);
  });

  it('rejects non-Buffer input without throwing', () => {
    for (const v of [undefined, null, 'x'.repeat(300), 42, {}, new Uint16Array(300)]) {
      const r = decodePacket(v as unknown as Buffer);
      expect(r.ok).toBe(false);
    }
  });
});

describe('encodePacket', () => {
  it('writes header, cookie, options in map order, end, and zero padding to 300 bytes', () => {
    const data = encoded(reply());
    expect(data.length).toBe(300);
    expect(data.subarray(0, 12).toString('hex')).toBe('02010600' + 'a1b2c3d4' + '0000' + '8000');
    expect(data.subarray(12, 28).toString('hex')).toBe('00000000' + '0a000032' + '0a000001' + '00000000');
    expect(data.subarray(28, 44).toString('hex')).toBe('525400abcdef' + '00'.repeat(10));
    expect(data.subarray(44, 108)).toEqual(Buffer.alloc(64));
    expect(data.subarray(108, 117).toString('latin1')).toBe('ipxe.efi\0');
    expect(data.readUInt32BE(236)).toBe(0x63825363);
    const opts = '350102' + '36040a000001' + '330400000e10' + '3c09' + Buffer.from('PXEClient').toString('hex') + 'ff';
    expect(data.subarray(240, 240 + opts.length / 2).toString('hex')).toBe(opts);
    expect(data.subarray(240 + opts.length / 2)).toEqual(Buffer.alloc(300 - 240 - opts.length / 2));
  });

  it('round-trips through decodePacket', () => {
    const p = reply();
    expect(decoded(encoded(p))).toEqual(p);
  });

  it('does not pad beyond what the options need once past 300 bytes', () => {
    const p = reply();
    p.options.set(43, Buffer.alloc(100, 7));
    const data = encoded(p);
    expect(data.length).toBe(240 + 3 + 6 + 6 + 11 + 102 + 1);
    expect(data[data.length - 1]).toBe(255);
  });

  it('splits values longer than 255 bytes into consecutive instances and decode re-joins them', () => {
    const long = Buffer.from(Array.from({ length: 600 }, (_, i) => i & 0xff));
    const p = reply();
    p.options = new Map([
      [53, Buffer.from([2])],
      [43, long],
      [54, Buffer.from([10, 0, 0, 1])],
    ]);
    const data = encoded(p);
    expect(wireTlvs(data, 240, data.length)).toEqual([
      [53, 1],
      [43, 255],
      [43, 255],
      [43, 90],
      [54, 4],
    ]);
    expect(data.subarray(245, 500)).toEqual(long.subarray(0, 255));
    const back = decoded(data);
    expect(back.options.get(43)).toEqual(long);
    expect([...back.options.keys()]).toEqual([53, 43, 54]);
  });

  it('writes exactly 255 bytes as one instance, 256 as two, and an empty value as code + zero length', () => {
    const lens = (n: number): number[] => {
      const p = reply();
      p.options = new Map([[43, Buffer.alloc(n, 1)]]);
      const data = encoded(p);
      return wireTlvs(data, 240, data.length).map(([, len]) => len);
    };
    expect(lens(255)).toEqual([255]);
    expect(lens(256)).toEqual([255, 1]);
    expect(lens(0)).toEqual([0]);
  });

  it('uses overload only when the options do not fit, first-fit into options, file, sname', () => {
    const p = reply();
    p.file = '';
    const url = 'http://10.0.0.1:8080/ipxe/boot.ipxe?m=1'; // 39 chars: fits only in sname
    p.options = new Map([
      [53, Buffer.from([2])],
      [54, Buffer.from([10, 0, 0, 1])],
      [43, Buffer.alloc(280, 0x2b)],
      [125, Buffer.alloc(100, 0x7d)],
      [66, Buffer.from('10.0.0.1')],
      [67, Buffer.from(url)],
    ]);
    // Fits in the default 1472 bytes without overload, in map order.
    const plain = encoded(p);
    expect(wireTlvs(plain, 240, plain.length).map(([c]) => c)).toEqual([53, 54, 43, 43, 125, 66, 67]);

    const data = encoded(p, { maxSize: 548 });
    expect(data.length).toBeLessThanOrEqual(548);
    // options field: 53, 54, 43 (both slices), then 66 still fits; 52 goes last.
    expect(wireTlvs(data, 240, data.length)).toEqual([
      [53, 1],
      [54, 4],
      [43, 255],
      [43, 25],
      [66, 8],
      [52, 1],
    ]);
    expect(tlvValue(data, 240, data.length, 52)).toEqual(Buffer.from([3]));
    expect(wireTlvs(data, 108, 236)).toEqual([[125, 100]]);
    expect(wireTlvs(data, 44, 108)).toEqual([[67, 39]]);
    const back = decoded(data);
    expect(back.file).toBe('');
    expect(back.sname).toBe('');
    expect(sortedHex(back.options)).toEqual(sortedHex(p.options));
  });

  it('moves options into sname when file holds a boot file name (overload 2)', () => {
    const p = reply(); // file = 'ipxe.efi'
    p.options.set(43, Buffer.alloc(255 + 10, 1));
    p.options.set(12, Buffer.alloc(30, 0x68));
    const data = encoded(p, { maxSize: 548 - 200 }); // clamped up to 548
    expect(data.length).toBeLessThanOrEqual(548);
    expect(tlvValue(data, 240, data.length, 52)).toEqual(Buffer.from([2]));
    expect(wireTlvs(data, 44, 108)).toEqual([[12, 30]]);
    const back = decoded(data);
    expect(back.file).toBe('ipxe.efi');
    expect(back.sname).toBe('');
    expect(hexOf(back.options)).toEqual(hexOf(p.options));
  });

  it('uses both fields (overload 3) and re-joins a value split across options and file', () => {
    const p = reply();
    p.file = '';
    const v43 = Buffer.from(Array.from({ length: 285 }, (_, i) => (i * 7) & 0xff));
    p.options.set(43, v43);
    p.options.set(12, Buffer.alloc(80, 0x68));
    p.options.set(15, Buffer.alloc(50, 0x64));
    const data = encoded(p, { maxSize: 548 });
    expect(wireTlvs(data, 240, data.length).map(([c]) => c)).toEqual([53, 54, 51, 60, 43, 52]);
    expect(wireTlvs(data, 108, 236)).toEqual([
      [43, 30],
      [12, 80],
    ]);
    expect(wireTlvs(data, 44, 108)).toEqual([[15, 50]]);
    const back = decoded(data);
    expect(back.options.get(43)).toEqual(v43);
    expect(hexOf(back.options)).toEqual(hexOf(p.options));
  });

  it('fails when the options do not fit even with overload', () => {
    const p = reply();
    p.file = '';
    p.options.set(43, Buffer.alloc(1100, 1));
    const r = encodePacket(p, { maxSize: 548 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/do not fit/);
    expect(encodePacket(p).ok).toBe(true); // 1472 default is enough
    p.options.set(125, Buffer.alloc(1500, 1));
    expect(encodePacket(p).ok).toBe(false);
    expect(encodePacket(p, { maxSize: 9000 }).ok).toBe(true);
  });

  it('never writes more than maxSize, and clamps maxSize up to 548', () => {
    const p = reply();
    p.file = '';
    p.options.set(43, Buffer.alloc(300, 1));
    for (const maxSize of [100, 548, 560, 600, 700]) {
      const r = encodePacket(p, { maxSize });
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.data.length).toBeLessThanOrEqual(Math.max(548, maxSize));
    }
  });

  it('enforces sname <= 63 and file <= 127 characters', () => {
    const p = reply();
    p.sname = 's'.repeat(63);
    p.file = 'f'.repeat(127);
    const back = decoded(encoded(p));
    expect(back.sname).toBe(p.sname);
    expect(back.file).toBe(p.file);
    expect(encodePacket({ ...p, sname: 's'.repeat(64) }).ok).toBe(false);
    expect(encodePacket({ ...p, file: 'f'.repeat(128) }).ok).toBe(false);
  });

  it('rejects characters outside latin1 and embedded NULs in sname/file', () => {
    expect(encodePacket({ ...reply(), file: 'boot\u0100.efi' }).ok).toBe(false);
    expect(encodePacket({ ...reply(), sname: 'a\0b' }).ok).toBe(false);
    expect(decoded(encoded({ ...reply(), file: 'caf\u00e9.efi' })).file).toBe('caf\u00e9.efi');
  });

  it('rejects bad header values, addresses, chaddr and option codes with a reason', () => {
    const cases: Array<[Partial<DhcpPacket>, RegExp]> = [
      [{ op: 3 }, /op/],
      [{ htype: 256 }, /htype/],
      [{ hlen: 17 }, /hlen/],
      [{ hops: -1 }, /hops/],
      [{ xid: 2 ** 32 }, /xid/],
      [{ secs: 1.5 }, /secs/],
      [{ flags: 0x10000 }, /flags/],
      [{ yiaddr: '10.0.0.256' }, /yiaddr/],
      [{ giaddr: '10.0.0' }, /giaddr/],
      [{ ciaddr: '010.0.0.1' }, /ciaddr/],
      [{ chaddr: Buffer.alloc(17) }, /chaddr/],
      [{ options: new Map([[255, Buffer.alloc(1)]]) }, /option code 255/],
      [{ options: new Map([[0, Buffer.alloc(1)]]) }, /option code 0/],
      [{ options: new Map([[300, Buffer.alloc(1)]]) }, /option code 300/],
    ];
    for (const [patch, reason] of cases) {
      const r = encodePacket({ ...reply(), ...patch });
      expect(r.ok, JSON.stringify(Object.keys(patch))).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    }
  });

  it('ignores a caller-supplied option 52 (the encoder owns overload)', () => {
    const p = reply();
    p.options.set(52, Buffer.from([3]));
    const data = encoded(p);
    expect(wireTlvs(data, 240, data.length).map(([c]) => c)).toEqual([53, 54, 51, 60]);
  });

  it('zero-pads a short chaddr', () => {
    const p = { ...reply(), chaddr: Buffer.from(MAC_D) };
    expect(decoded(encoded(p)).chaddr).toEqual(Buffer.concat([Buffer.from(MAC_D), Buffer.alloc(10)]));
  });

  it('never throws on garbage input', () => {
    for (const v of [undefined, null, 7, 'x', {}, { ...reply(), options: {} }, { ...reply(), chaddr: 'aa' }]) {
      const r = encodePacket(v as unknown as DhcpPacket);
      expect(r.ok).toBe(false);
    }
    expect(encodePacket(reply(), { maxSize: Number.NaN }).ok).toBe(true);
  });
});

describe('clientMac and emptyReply', () => {
  it('formats an Ethernet MAC in lower case and returns null otherwise', () => {
    const p = decoded(rawPacket({ chaddr: [0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff] }));
    expect(clientMac(p)).toBe('aa:bb:cc:0d:ee:ff');
    expect(clientMac({ ...p, htype: 32, hlen: 16 })).toBeNull();
    expect(clientMac({ ...p, hlen: 16 })).toBeNull();
    expect(clientMac({ ...p, htype: 6 })).toBeNull();
  });

  it('copies the fields a server must echo and zeros the rest', () => {
    const req = decoded(
      rawPacket({
        hops: 2,
        secs: 9,
        flags: 0x8000,
        xid: 0xdeadbeef,
        ciaddr: [10, 1, 1, 5],
        yiaddr: [10, 1, 1, 6],
        siaddr: [10, 1, 1, 7],
        giaddr: [10, 20, 0, 1],
        sname: Buffer.from('x'),
        file: Buffer.from('y'),
        options: [[53, [1]]],
      }),
    );
    const r = emptyReply(req);
    expect(r).toEqual({
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: 0xdeadbeef,
      secs: 0,
      flags: 0x8000,
      ciaddr: '0.0.0.0',
      yiaddr: '0.0.0.0',
      siaddr: '0.0.0.0',
      giaddr: '10.20.0.1',
      chaddr: req.chaddr,
      sname: '',
      file: '',
      options: new Map(),
    });
    r.chaddr[0] = 0xff;
    expect(req.chaddr[0]).toBe(MAC_A[0]); // a copy, not shared
  });
});

// Real client captures dropped by another helper: test/fixtures/dhcp/captures/*.json,
// each a JSON array of { name, hex } DHCP UDP payloads.
const capturesDir = fileURLToPath(new URL('../fixtures/dhcp/captures/', import.meta.url));
const captureFiles = existsSync(capturesDir) ? readdirSync(capturesDir).filter((f) => f.endsWith('.json')).sort() : [];

describe.skipIf(!existsSync(capturesDir))('captured packets', () => {
  it('the captures directory holds at least one file', () => {
    expect(captureFiles.length).toBeGreaterThan(0);
  });

  for (const file of captureFiles) {
    it(`decodes and round-trips every packet in ${file}`, () => {
      const entries = JSON.parse(readFileSync(capturesDir + file, 'utf8')) as Array<{ name: string; hex: string }>;
      expect(Array.isArray(entries)).toBe(true);
      expect(entries.length).toBeGreaterThan(0);
      for (const { name, hex } of entries) {
        const first = decodePacket(Buffer.from(hex, 'hex'));
        expect(first.ok ? '' : first.reason, name).toBe('');
        if (!first.ok) continue;
        const again = encodePacket(first.packet);
        expect(again.ok ? '' : again.reason, name).toBe('');
        if (!again.ok) continue;
        expect(decoded(again.data), name).toEqual(first.packet);
      }
    });
  }
});
